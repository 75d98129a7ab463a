//! Relations (tables, partitioned tables, views, materialized views,
//! sequences, foreign tables): their definitions, read in a few batched
//! catalog queries, and how their rows are read.
//!
//! Rows are streamed with `COPY ... TO STDOUT` in text format, so the server
//! only runs the types' output functions (which only a superuser can
//! install). A table whose primary key is made only of built-in types with
//! built-in operator classes and deterministic collations is read in key
//! order (the server's built-in comparison); any other table is read in
//! storage order and its COPY lines are sorted by their bytes in holdfast,
//! so no user operator or cast is ever asked to order rows. A large one of
//! those is read in page (`ctid`) ranges spread over the connections, whose
//! lines are sorted together (see [`RelationDef::page_split`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::catalog::ns_filter;
use super::quote::{part_name, sql_ident, sql_qualified};

/// The relation list: one row per relation in the covered schemas.
pub const RELATIONS_SQL: &str = concat!(
    "SELECT c.oid, n.nspname::pg_catalog.text, c.relname::pg_catalog.text, c.relkind::pg_catalog.text, \
       c.relpages::pg_catalog.int8, \
       pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS owner, c.relacl::pg_catalog.text AS acl, \
       c.relpersistence::pg_catalog.text AS persistence, c.relreplident::pg_catalog.text AS replica_identity, \
       (SELECT i.indexrelid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_index i \
          WHERE i.indrelid = c.oid AND i.indisreplident) AS replica_identity_index, \
       c.reloptions::pg_catalog.text AS options, c.relrowsecurity::pg_catalog.text AS row_security, \
       c.relforcerowsecurity::pg_catalog.text AS force_row_security, \
       c.relispartition::pg_catalog.text AS is_partition, \
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS partition_bound, \
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key, \
       (SELECT pg_catalog.array_agg(h.inhparent::pg_catalog.regclass::pg_catalog.text ORDER BY h.inhseqno) \
          FROM pg_catalog.pg_inherits h WHERE h.inhrelid = c.oid)::pg_catalog.text AS inherits, \
       am.amname::pg_catalog.text AS access_method, ts.spcname::pg_catalog.text AS tablespace, \
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS view_definition, \
       CASE WHEN c.relkind = 'm' THEN c.relispopulated::pg_catalog.text END AS populated, \
       (SELECT pg_catalog.concat(fs.srvname, ' ', ft.ftoptions) FROM pg_catalog.pg_foreign_table ft \
          JOIN pg_catalog.pg_foreign_server fs ON fs.oid = ft.ftserver WHERE ft.ftrelid = c.oid) AS foreign_server_options, \
       (SELECT pg_catalog.to_jsonb(s)::pg_catalog.text FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid) AS sequence, \
       (SELECT pg_catalog.concat(d.deptype, ' ', d.refobjid::pg_catalog.regclass, ' ', d.refobjsubid) FROM pg_catalog.pg_depend d \
          WHERE c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid \
            AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS owned_by \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
       LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
       LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ",
    ns_filter!("n", "c.oid"),
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\""
);

/// Number of leading columns of [`RELATIONS_SQL`] that are not attributes.
pub const RELATION_FIXED_COLUMNS: usize = 5;

/// Every column of the covered relations, in column order.
pub const COLUMNS_SQL: &str = concat!(
    "SELECT a.attrelid, a.attname::pg_catalog.text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
       pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::pg_catalog.text, a.attgenerated::pg_catalog.text, \
       CASE WHEN a.attcollation <> '0'::pg_catalog.oid THEN a.attcollation::pg_catalog.regcollation::pg_catalog.text END, \
       a.attacl::pg_catalog.text, a.attoptions::pg_catalog.text, a.attfdwoptions::pg_catalog.text \
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND ",
    ns_filter!("n", "c.oid"),
    " ORDER BY a.attrelid, a.attnum"
);

/// Every table constraint of the covered relations.
pub const CONSTRAINTS_SQL: &str = concat!(
    "SELECT co.conrelid, co.conname::pg_catalog.text, co.contype::pg_catalog.text, \
       pg_catalog.pg_get_constraintdef(co.oid, true), co.convalidated::pg_catalog.text \
     FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid \
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
    ns_filter!("n", "c.oid"),
    " ORDER BY co.conrelid, co.conname COLLATE \"C\""
);

/// Every index of the covered relations.
pub const INDEXES_SQL: &str = concat!(
    "SELECT i.indrelid, ic.relname::pg_catalog.text, pg_catalog.pg_get_indexdef(i.indexrelid), \
       i.indisvalid::pg_catalog.text, i.indisclustered::pg_catalog.text, ic.reloptions::pg_catalog.text \
     FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
    ns_filter!("n", "c.oid"),
    " ORDER BY i.indrelid, ic.relname COLLATE \"C\""
);

/// Primary key columns, in key order, with whether each can be ordered by
/// the server's built-in code alone: a built-in type (oid below 16384, so
/// not a domain or user type), a built-in operator class, and no collation
/// or a built-in deterministic one.
pub const PRIMARY_KEYS_SQL: &str = concat!(
    "SELECT i.indrelid, a.attname::pg_catalog.text, \
       (a.atttypid < '16384'::pg_catalog.oid AND i.indclass[k.ord::pg_catalog.int4 - 1] < '16384'::pg_catalog.oid \
        AND (a.attcollation = '0'::pg_catalog.oid OR EXISTS (SELECT FROM pg_catalog.pg_collation cl \
             WHERE cl.oid = a.attcollation AND cl.oid < '16384'::pg_catalog.oid AND cl.collisdeterministic))), \
       a.atttypid IN ('20'::pg_catalog.oid, '21'::pg_catalog.oid, '23'::pg_catalog.oid) \
     FROM pg_catalog.pg_index i CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE i.indisprimary AND ",
    ns_filter!("n", "c.oid"),
    " ORDER BY i.indrelid, k.ord"
);

/// The covered relations the server must not be asked to plan a query on:
/// those with an index whose key has expressions or which is partial, or a
/// statistics object with expressions. Planning a query on a relation loads
/// these and runs them through `eval_const_expressions`, which calls any
/// function in them whose arguments are constants and that is declared
/// IMMUTABLE: an owner's function, run as the snapshot role (a test plants
/// one that writes through dblink). Such a table is read with a plain
/// `COPY table TO STDOUT`, which plans nothing.
pub const UNPLANNABLE_SQL: &str = concat!(
    "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'm') AND (EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid \
         AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)) \
       OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid = c.oid AND s.stxexprs IS NOT NULL)) AND ",
    ns_filter!("n", "c.oid")
);

/// [`UNPLANNABLE_SQL`] for servers before 14 (no statistics on expressions).
pub const UNPLANNABLE_SQL_BEFORE_14: &str = concat!(
    "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'm') AND EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid \
         AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)) AND ",
    ns_filter!("n", "c.oid")
);

/// One relation's definition, as digested.
#[derive(Debug, Clone, Serialize)]
pub struct RelationDef {
    /// Schema name.
    pub schema: String,
    /// Relation name.
    pub name: String,
    /// `relkind`.
    pub kind: String,
    /// Columns, in order.
    pub columns: Vec<ColumnDef>,
    /// Table constraints, by name.
    pub constraints: Vec<ConstraintDef>,
    /// Indexes, by name.
    pub indexes: Vec<IndexDef>,
    /// Primary key column names, in key order.
    pub primary_key: Vec<String>,
    /// The rest of its `pg_class` row and what hangs off it: owner, ACL,
    /// persistence, replica identity, options, RLS flags, partition bound
    /// and key, parents, access method, tablespace, view query, sequence
    /// definition, foreign server.
    pub attributes: BTreeMap<String, Option<String>>,
    /// Whether the key can be ordered by built-in code (not digested).
    #[serde(skip)]
    pub key_is_builtin: bool,
    /// Whether every key column is `smallint`, `integer` or `bigint` (not
    /// digested; with one key column the table can be read in key ranges).
    #[serde(skip)]
    pub key_is_integer: bool,
    /// Its size in pages: `relpages` from the listing; for a
    /// [ranged](Self::ranged) table its true size (`pg_relation_size`, read
    /// with its key's bounds: a bulk load leaves `relpages` stale). To
    /// schedule large tables first and to split them (not digested).
    #[serde(skip)]
    pub pages: i64,
    /// Its size in bytes with its TOAST table: `relpages` times 8 KiB; for a
    /// ranged table `pg_table_size`. To decide whether its rows are held in
    /// memory to sort them (not digested).
    #[serde(skip)]
    pub bytes: i64,
    /// Whether the server may plan a query on it (see [`UNPLANNABLE_SQL`];
    /// not digested: the indexes and statistics that decide it are).
    #[serde(skip)]
    pub plannable: bool,
}

/// One column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDef {
    /// Name.
    pub name: String,
    /// `format_type` of its type.
    pub data_type: String,
    /// NOT NULL.
    pub not_null: bool,
    /// Default expression.
    pub default: Option<String>,
    /// `attidentity`.
    pub identity: String,
    /// `attgenerated`.
    pub generated: String,
    /// Collation, when the type has one.
    pub collation: Option<String>,
    /// Column privileges.
    pub acl: Option<String>,
    /// Column options.
    pub options: Option<String>,
    /// Foreign-table column options.
    pub fdw_options: Option<String>,
}

/// One table constraint.
#[derive(Debug, Clone, Serialize)]
pub struct ConstraintDef {
    /// Name.
    pub name: String,
    /// `contype`.
    pub kind: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
    /// Whether it was validated.
    pub validated: String,
}

/// One index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexDef {
    /// Name.
    pub name: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// Valid (usable).
    pub valid: String,
    /// Clustered on.
    pub clustered: String,
    /// Index storage options.
    pub options: Option<String>,
}

impl RelationDef {
    /// The part name prefix for its kind.
    pub fn part_kind(&self) -> &'static str {
        match self.kind.as_str() {
            "r" | "p" => "table",
            "v" => "view",
            "m" => "matview",
            "S" => "sequence",
            "f" => "foreign-table",
            _ => "relation",
        }
    }

    /// Its name as SQL, schema-qualified and quoted.
    pub fn qualified(&self) -> String {
        sql_qualified(&self.schema, &self.name)
    }

    /// Its part name, e.g. `table:public.accounts`.
    pub fn part(&self) -> String {
        part_name(self.part_kind(), &[&self.schema, &self.name])
    }

    /// Whether its rows are read (tables and populated materialized views;
    /// a partitioned table's rows are its partitions').
    pub fn has_rows(&self) -> bool {
        match self.kind.as_str() {
            "r" => true,
            "m" => self.attributes.get("populated") == Some(&Some("true".to_string())),
            _ => false,
        }
    }

    /// Whether its rows are read in ranges of its key: a table with a
    /// one-column integer primary key (what the ranges are depends only on
    /// the key's minimum and maximum, see [`key_ranges`]).
    pub fn ranged(&self) -> bool {
        self.kind == "r"
            && self.plannable
            && self.key_is_builtin
            && self.key_is_integer
            && self.primary_key.len() == 1
    }

    /// One branch of the query of the key's minimum and maximum (for
    /// [`key_ranges`]) and the table's true size: its pages
    /// (`pg_relation_size` over the block size) and its bytes with TOAST
    /// (`pg_table_size`); its first column is `tag`, its parameter `$param`
    /// is [`Self::qualified`]. The branches of several tables are joined
    /// with `UNION ALL`, one round trip for them all.
    pub fn key_bounds_sql(&self, tag: usize, param: usize) -> Option<String> {
        self.ranged().then(|| {
            let k = sql_ident(&self.primary_key[0]);
            // `$param` is the qualified name, a text parameter (never in the SQL).
            format!(
                "SELECT {tag}, pg_catalog.min({k})::pg_catalog.int8, pg_catalog.max({k})::pg_catalog.int8, \
                 pg_catalog.pg_relation_size(${param}::pg_catalog.text::pg_catalog.regclass) OPERATOR(pg_catalog./) \
                 pg_catalog.current_setting('block_size')::pg_catalog.int8, \
                 pg_catalog.pg_table_size(${param}::pg_catalog.text::pg_catalog.regclass) FROM ONLY {}",
                self.qualified()
            )
        })
    }

    /// A first capacity for the COPY text of its pages `lo..hi` (`None`:
    /// the table's ends): its bytes (with TOAST) in that share of its
    /// pages, at most [`FIRST_CAPACITY_LIMIT`]. COPY text is about as long
    /// as the rows it comes from, and a wrong guess costs only what it
    /// saves: a buffer grown by doubling copies itself and touches new
    /// memory at every step.
    pub fn pages_capacity(&self, lo: Option<i64>, hi: Option<i64>) -> usize {
        let pages = self.pages.max(0);
        if pages == 0 {
            return 0;
        }
        let span = (hi.unwrap_or(pages).min(pages) - lo.unwrap_or(0).max(0)).max(0);
        let bytes = i128::from(self.bytes.max(0)) * i128::from(span) / i128::from(pages);
        first_capacity(u64::try_from(bytes).unwrap_or(u64::MAX))
    }

    /// The position of the key column among the columns (ranged tables).
    pub fn key_position(&self) -> Option<usize> {
        if !self.ranged() {
            return None;
        }
        self.columns
            .iter()
            .position(|c| c.name == self.primary_key[0])
    }

    /// [`Self::range_copy_sql`] without the `ORDER BY` (holdfast sorts).
    pub fn range_copy_sql_unordered(&self, lo: Option<i64>, hi: Option<i64>) -> String {
        self.range_sql(lo, hi, false)
    }

    /// The COPY statement for one key range (`lo` inclusive, `hi` exclusive;
    /// `None` is unbounded), in key order.
    pub fn range_copy_sql(&self, lo: Option<i64>, hi: Option<i64>) -> String {
        self.range_sql(lo, hi, true)
    }

    fn range_sql(&self, lo: Option<i64>, hi: Option<i64>, ordered: bool) -> String {
        let k = sql_ident(&self.primary_key[0]);
        let mut cond = Vec::new();
        if let Some(lo) = lo {
            cond.push(format!("{k} >= {lo}"));
        }
        if let Some(hi) = hi {
            cond.push(format!("{k} < {hi}"));
        }
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", cond.join(" AND "))
        };
        let order = if ordered {
            format!(" ORDER BY {k}")
        } else {
            String::new()
        };
        format!(
            "COPY (SELECT * FROM ONLY {}{filter}{order}) TO STDOUT",
            sql_qualified(&self.schema, &self.name)
        )
    }

    /// The COPY statement that reads its rows, and whether holdfast must
    /// sort the lines (no built-in key to order by, or a table the server
    /// must not plan a query on); `Err` for a materialized view that cannot
    /// be read without planning (see [`UNPLANNABLE_SQL`]).
    pub fn copy_sql(&self) -> Result<(String, bool), String> {
        let q = sql_qualified(&self.schema, &self.name);
        if self.kind == "m" && !self.plannable {
            return Err(format!(
                "{} has an index or statistics object with expressions: a materialized view can only \
                 be read through a query, and planning one evaluates those expressions (code its owner \
                 can plant), so holdfast does not read it; drop that index or statistics object, or \
                 leave its schema out of `schemas`",
                self.part()
            ));
        }
        Ok(
            if !self.primary_key.is_empty()
                && self.key_is_builtin
                && self.plannable
                && self.kind == "r"
            {
                let order: Vec<String> = self.primary_key.iter().map(|c| sql_ident(c)).collect();
                (
                    format!(
                        "COPY (SELECT * FROM ONLY {q} ORDER BY {}) TO STDOUT",
                        order.join(", ")
                    ),
                    false,
                )
            } else if self.kind == "m" {
                // COPY reads a materialized view only through a query.
                (format!("COPY (SELECT * FROM {q}) TO STDOUT"), true)
            } else {
                (format!("COPY {q} TO STDOUT"), true)
            },
        )
    }
    /// Whether its rows may be read in page ranges (`ctid` ranges, a TID
    /// range scan, PostgreSQL 14 and later): a table holdfast sorts by its
    /// COPY lines anyway (no built-in primary key) and that the server may
    /// plan a query on. The lines of every range are sorted together, so the
    /// digest is that of the whole table's COPY, whatever the split.
    pub fn page_split(&self, server_version: u32) -> bool {
        server_version >= 140000
            && self.kind == "r"
            && self.plannable
            && matches!(self.copy_sql(), Ok((_, true)))
    }

    /// The COPY statement of the rows in pages `lo` (inclusive) to `hi`
    /// (exclusive; `None` is unbounded): the columns `COPY table TO STDOUT`
    /// writes (not dropped, not generated), in column order, so the lines
    /// are the same bytes. Only built-in code runs: the `tid` input of two
    /// literals and the `tid` comparison operators, named in `pg_catalog`.
    pub fn page_copy_sql(&self, lo: Option<i64>, hi: Option<i64>) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.generated.is_empty())
            .map(|c| sql_ident(&c.name))
            .collect();
        format!(
            "COPY (SELECT {} FROM ONLY {}{}) TO STDOUT",
            cols.join(", "),
            sql_qualified(&self.schema, &self.name),
            page_filter(lo, hi)
        )
    }

    /// Whether a [ranged](Self::ranged) table may be read in page ranges
    /// (PostgreSQL 14 and later) and its lines sorted by its key inside
    /// holdfast: a TID range scan is a plain sequential read of those pages,
    /// cheaper for the server than the index scan a key range takes (0.28 s
    /// against 0.39 s for half of a 1,000,000-row table here). The lines are
    /// then split into the same key ranges and hashed as a key-range read
    /// hashes them, so the digest does not change.
    pub fn keyed_page_split(&self, server_version: u32) -> bool {
        server_version >= 140000 && self.ranged()
    }

    /// The COPY statement of the rows in pages `lo` (inclusive) to `hi`
    /// (exclusive) of a ranged table: every column, as the key-range reads
    /// ask for them (`SELECT *`), so the lines are the same bytes.
    pub fn keyed_page_copy_sql(&self, lo: Option<i64>, hi: Option<i64>) -> String {
        format!(
            "COPY (SELECT * FROM ONLY {}{}) TO STDOUT",
            self.qualified(),
            page_filter(lo, hi)
        )
    }
}

/// The `WHERE` clause of a page range (empty when unbounded both ways):
/// only the `tid` input of two literals and the `tid` comparison operators,
/// named in `pg_catalog`, run.
fn page_filter(lo: Option<i64>, hi: Option<i64>) -> String {
    let mut cond = Vec::new();
    if let Some(lo) = lo {
        cond.push(format!(
            "ctid OPERATOR(pg_catalog.>=) '({lo},0)'::pg_catalog.tid"
        ));
    }
    if let Some(hi) = hi {
        cond.push(format!(
            "ctid OPERATOR(pg_catalog.<) '({hi},0)'::pg_catalog.tid"
        ));
    }
    if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    }
}

/// The page ranges of a table of `pages` pages (see [`RelationDef::pages`]:
/// the first range is open below and the last open above, so every row is
/// in exactly one range whatever the table's true size), `per` pages each;
/// one unbounded range for a table of fewer than two ranges' pages. Only the
/// scheduling depends on them: the digest does not (see
/// [`RelationDef::page_split`]).
pub fn page_ranges(pages: i64, per: u64) -> Vec<Bounds> {
    let per = i64::try_from(per.max(1)).unwrap_or(i64::MAX);
    let n = (pages.max(0) / per).clamp(1, MAX_PAGE_RANGES);
    if n < 2 {
        return vec![(None, None)];
    }
    let width = pages / n + i64::from(pages % n != 0);
    (0..n)
        .map(|k| {
            (
                (k > 0).then(|| k * width),
                (k < n - 1).then(|| (k + 1) * width),
            )
        })
        .collect()
}

/// One range of keys or pages: lower bound inclusive, upper exclusive,
/// `None` unbounded.
pub type Bounds = (Option<i64>, Option<i64>);

/// The largest first capacity of a buffer of COPY text (64 MiB; a larger
/// one grows as it fills).
pub const FIRST_CAPACITY_LIMIT: usize = 64 << 20;

/// A first capacity for a buffer of about `bytes` of COPY text: `bytes`,
/// at most [`FIRST_CAPACITY_LIMIT`].
pub fn first_capacity(bytes: u64) -> usize {
    usize::try_from(bytes)
        .unwrap_or(usize::MAX)
        .min(FIRST_CAPACITY_LIMIT)
}

/// The most page ranges one table is split into.
pub const MAX_PAGE_RANGES: i64 = 64;

/// Key values per range: a table whose key spans fewer values than this is
/// read as one range.
pub const KEY_RANGE_WIDTH: i128 = 1 << 16;
/// The most ranges one table is split into.
pub const MAX_KEY_RANGES: i128 = 64;

/// The key ranges of a table whose key runs from `min` to `max`: `(lo, hi)`
/// with `lo` inclusive and `hi` exclusive, the first unbounded below and the
/// last unbounded above, so together they cover every row whatever the
/// bounds. They depend only on `min` and `max` (the data), never on the
/// parallelism, so the digest does not either.
pub fn key_ranges(min: i64, max: i64) -> Vec<Bounds> {
    let span = i128::from(max) - i128::from(min) + 1;
    let n = (span / KEY_RANGE_WIDTH).clamp(1, MAX_KEY_RANGES);
    if n <= 1 {
        return vec![(None, None)];
    }
    let width = (span + n - 1) / n;
    let bound = |k: i128| -> i64 {
        // Inside [min, max] by construction, so it fits.
        i64::try_from(i128::from(min) + k * width).unwrap_or(max)
    };
    (0..n)
        .map(|k| ((k > 0).then(|| bound(k)), (k < n - 1).then(|| bound(k + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(kind: &str, pk: &[&str], builtin: bool) -> RelationDef {
        RelationDef {
            schema: "a.b".into(),
            name: "select".into(),
            kind: kind.into(),
            columns: vec![],
            constraints: vec![],
            indexes: vec![],
            primary_key: pk.iter().map(|s| s.to_string()).collect(),
            attributes: BTreeMap::new(),
            key_is_builtin: builtin,
            key_is_integer: true,
            pages: 0,
            bytes: 0,
            plannable: true,
        }
    }

    #[test]
    fn a_relation_that_must_not_be_planned_is_copied_whole_or_refused() {
        let mut t = rel("r", &["id"], true);
        t.plannable = false;
        assert!(!t.ranged());
        assert_eq!(
            t.copy_sql().unwrap(),
            ("COPY \"a.b\".\"select\" TO STDOUT".to_string(), true)
        );
        let mut m = rel("m", &[], true);
        m.plannable = false;
        let e = m.copy_sql().unwrap_err();
        assert!(
            e.contains("matview:\"a.b\".select") && e.contains("expressions"),
            "{e}"
        );
    }

    #[test]
    fn copy_orders_only_by_a_builtin_key() {
        let (sql, sort) = rel("r", &["id", "Ord\"er"], true).copy_sql().unwrap();
        assert_eq!(
            sql,
            "COPY (SELECT * FROM ONLY \"a.b\".\"select\" ORDER BY \"id\", \"Ord\"\"er\") TO STDOUT"
        );
        assert!(!sort);
        let (sql, sort) = rel("m", &["id"], true).copy_sql().unwrap();
        assert_eq!(sql, "COPY (SELECT * FROM \"a.b\".\"select\") TO STDOUT");
        assert!(sort);
        for r in [rel("r", &["id"], false), rel("r", &[], true)] {
            let (sql, sort) = r.copy_sql().unwrap();
            assert_eq!(sql, "COPY \"a.b\".\"select\" TO STDOUT");
            assert!(sort);
        }
        assert_eq!(rel("r", &[], true).part(), "table:\"a.b\".select");
        assert_eq!(rel("S", &[], true).part_kind(), "sequence");
    }

    #[test]
    fn rows_are_read_for_tables_and_populated_matviews_only() {
        assert!(rel("r", &[], true).has_rows());
        assert!(!rel("p", &[], true).has_rows());
        assert!(!rel("v", &[], true).has_rows());
        let mut m = rel("m", &[], true);
        assert!(!m.has_rows());
        m.attributes.insert("populated".into(), Some("true".into()));
        assert!(m.has_rows());
    }

    #[test]
    fn key_ranges_cover_everything_and_depend_only_on_the_bounds() {
        assert_eq!(key_ranges(1, 1000), vec![(None, None)]);
        assert_eq!(key_ranges(5, 5), vec![(None, None)]);
        let r = key_ranges(1, 1_000_000);
        assert_eq!(r.len(), 15);
        assert_eq!(r[0].0, None);
        assert_eq!(r[14].1, None);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0, "adjacent ranges meet");
        }
        let r = key_ranges(i64::MIN, i64::MAX);
        assert_eq!(r.len(), 64);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
            assert!(w[0].1 < w[1].1 || w[1].1.is_none());
        }
        let t = rel("r", &["id"], true);
        assert!(t.ranged());
        assert!(!rel("r", &["a", "b"], true).ranged());
        assert!(!rel("r", &["id"], false).ranged());
        assert_eq!(
            t.range_copy_sql(Some(-5), Some(10)),
            "COPY (SELECT * FROM ONLY \"a.b\".\"select\" WHERE \"id\" >= -5 AND \"id\" < 10 ORDER BY \"id\") TO STDOUT"
        );
        assert_eq!(
            t.range_copy_sql_unordered(Some(1), None),
            "COPY (SELECT * FROM ONLY \"a.b\".\"select\" WHERE \"id\" >= 1) TO STDOUT"
        );
        assert_eq!(
            t.range_copy_sql(None, None),
            "COPY (SELECT * FROM ONLY \"a.b\".\"select\" ORDER BY \"id\") TO STDOUT"
        );
    }

    #[test]
    fn a_page_ranges_first_capacity_is_its_share_of_the_table() {
        let mut r = rel("r", &["id"], true);
        r.pages = 100;
        r.bytes = 800_000;
        assert_eq!(r.pages_capacity(None, None), 800_000);
        assert_eq!(r.pages_capacity(Some(25), Some(50)), 200_000);
        assert_eq!(r.pages_capacity(Some(90), None), 80_000);
        // Bounds beyond the pages read at first, or reversed: nothing.
        assert_eq!(r.pages_capacity(Some(100), None), 0);
        assert_eq!(r.pages_capacity(Some(50), Some(10)), 0);
        r.bytes = i64::MAX;
        assert_eq!(r.pages_capacity(None, None), FIRST_CAPACITY_LIMIT);
        r.pages = 0;
        assert_eq!(r.pages_capacity(None, None), 0);
        r.pages = -1;
        r.bytes = -1;
        assert_eq!(r.pages_capacity(None, None), 0);
        assert_eq!(first_capacity(1000), 1000);
        assert_eq!(first_capacity(u64::MAX), FIRST_CAPACITY_LIMIT);
    }

    #[test]
    fn page_ranges_cover_every_page_and_only_large_tables_are_split() {
        assert_eq!(page_ranges(0, 4096), vec![(None, None)]);
        assert_eq!(page_ranges(8191, 4096), vec![(None, None)]);
        assert_eq!(page_ranges(-1, 1), vec![(None, None)]);
        assert_eq!(
            page_ranges(3, 1),
            vec![(None, Some(1)), (Some(1), Some(2)), (Some(2), None)]
        );
        for (pages, per) in [(8192, 4096), (10310, 1024), (100, 1), (i64::MAX, 1)] {
            let r = page_ranges(pages, per);
            assert!(
                r.len() >= 2 && r.len() <= MAX_PAGE_RANGES as usize,
                "{pages}"
            );
            assert_eq!(r[0].0, None);
            assert_eq!(r[r.len() - 1].1, None);
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0, "adjacent ranges meet");
                assert!(w[0].0 < w[1].0);
            }
        }
    }

    #[test]
    fn a_page_range_copies_the_columns_copy_writes_and_runs_only_catalog_operators() {
        let mut t = rel("r", &[], true);
        let col = |name: &str, generated: &str| ColumnDef {
            name: name.into(),
            data_type: "text".into(),
            not_null: false,
            default: None,
            identity: String::new(),
            generated: generated.into(),
            collation: None,
            acl: None,
            options: None,
            fdw_options: None,
        };
        t.columns = vec![col("a", ""), col("G", "s"), col("b\"c", "")];
        assert!(t.page_split(140000));
        assert!(!t.page_split(130000), "TID range scans need PostgreSQL 14");
        assert_eq!(
            t.page_copy_sql(Some(4), Some(8)),
            "COPY (SELECT \"a\", \"b\"\"c\" FROM ONLY \"a.b\".\"select\" WHERE \
             ctid OPERATOR(pg_catalog.>=) '(4,0)'::pg_catalog.tid AND ctid OPERATOR(pg_catalog.<) '(8,0)'::pg_catalog.tid) TO STDOUT"
        );
        assert_eq!(
            t.page_copy_sql(None, None),
            "COPY (SELECT \"a\", \"b\"\"c\" FROM ONLY \"a.b\".\"select\") TO STDOUT"
        );
        // A table with a built-in key is read in key order; one the server
        // must not plan a query on is copied whole.
        assert!(!rel("r", &["id"], true).page_split(150000));
        assert!(rel("r", &["id"], false).page_split(150000));
        let mut unplannable = rel("r", &[], true);
        unplannable.plannable = false;
        assert!(!unplannable.page_split(150000));
        assert!(!rel("m", &[], true).page_split(150000));
    }
}
