//! The catalog parts of a `postgres` snapshot: one part per object that
//! changes how the database behaves, each read from one system catalog.
//!
//! Every query reads `pg_catalog` relations by their qualified names and
//! calls only `pg_catalog` functions, qualified, in a session whose
//! `search_path` is pinned to `pg_catalog, pg_temp` (so the operators it
//! uses resolve in `pg_catalog` too: `pg_temp` is never searched for
//! operators or functions). Nothing here evaluates a user type, cast,
//! operator or function: the deparsing functions (`pg_get_functiondef`,
//! `pg_get_viewdef`, ...) print stored definitions, they do not run them.
//!
//! A query's columns are all text. Columns named `qi_*` are the object's
//! identity, quoted by holdfast into the part name; `id_*` are an identity
//! the server already spelt unambiguously (`regprocedure` output); every
//! other column is an attribute, digested by name. A NULL identity column
//! is left out of the name.

/// One kind of catalog object.
pub struct Kind {
    /// The part name prefix, e.g. `function`.
    pub prefix: &'static str,
    /// The catalog(s) it comes from (documentation and errors).
    pub catalog: &'static str,
    /// Whether the query takes the schema list as `$1`.
    pub filtered: bool,
    /// The query (PostgreSQL 15 and later unless `sql_before_15` is given).
    pub sql: &'static str,
    /// The query for servers before 15, when it differs.
    pub sql_before_15: Option<&'static str>,
}

/// The schema filter, for a namespace alias and the object's oid: every
/// schema, but in `pg_catalog` and `information_schema` only the objects
/// created after initdb (oid 16384 and up: a table stashed there is read,
/// the built-in ones are the server's), and not the TOAST and temporary
/// schemas; narrowed to `$1` when it is not empty.
macro_rules! ns_filter {
    ($ns:literal, $oid:literal) => {
        concat!(
            "(",
            $ns,
            ".nspname NOT IN ('pg_catalog', 'information_schema') OR ",
            $oid,
            " >= '16384'::pg_catalog.oid) \
             AND ",
            $ns,
            ".nspname NOT LIKE 'pg\\_toast%' AND ",
            $ns,
            ".nspname NOT LIKE 'pg\\_temp\\_%' \
             AND (pg_catalog.cardinality($1::pg_catalog.text[]) = 0 OR ",
            $ns,
            ".nspname = ANY($1::pg_catalog.text[]))"
        )
    };
}
pub(crate) use ns_filter;

/// Every catalog kind, in the order they are read.
pub const KINDS: &[Kind] = &[
    Kind {
        prefix: "database",
        catalog: "pg_database, pg_db_role_setting",
        filtered: false,
        sql: "SELECT (pg_catalog.to_jsonb(d) OPERATOR(pg_catalog.-) 'datfrozenxid' OPERATOR(pg_catalog.-) 'datminmxid')::pg_catalog.text AS attributes, \
                pg_catalog.pg_encoding_to_char(d.encoding)::pg_catalog.text AS encoding, \
                (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('role', s.setrole::pg_catalog.regrole::pg_catalog.text, 'settings', s.setconfig) ORDER BY s.setrole) \
                   FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid)::pg_catalog.text AS settings \
              FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
        sql_before_15: None,
    },
    Kind {
        prefix: "role",
        catalog: "pg_roles, pg_auth_members",
        filtered: false,
        sql: "SELECT r.rolname::pg_catalog.text AS qi_name, \
                (pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.-) 'rolpassword')::pg_catalog.text AS attributes, \
                (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.-) 'member' ORDER BY m.roleid, m.grantor) \
                   FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid)::pg_catalog.text AS member_of \
              FROM pg_catalog.pg_roles r",
        sql_before_15: None,
    },
    Kind {
        prefix: "schema",
        catalog: "pg_namespace",
        filtered: true,
        sql: concat!(
            "SELECT n.nspname::pg_catalog.text AS qi_name, \
               pg_catalog.pg_get_userbyid(n.nspowner)::pg_catalog.text AS owner, n.nspacl::pg_catalog.text AS acl \
             FROM pg_catalog.pg_namespace n WHERE ",
            ns_filter!("n", "n.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "default-privileges",
        catalog: "pg_default_acl",
        filtered: false,
        sql: "SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::pg_catalog.text AS qi_role, n.nspname::pg_catalog.text AS qi_schema, \
                CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' \
                  WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::pg_catalog.text END AS qi_objects, \
                d.defaclacl::pg_catalog.text AS acl \
              FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace",
        sql_before_15: None,
    },
    Kind {
        prefix: "function",
        catalog: "pg_proc, pg_aggregate",
        filtered: true,
        sql: concat!(
            "SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS id_signature, p.prokind::pg_catalog.text AS kind, \
               pg_catalog.pg_get_userbyid(p.proowner)::pg_catalog.text AS owner, p.proacl::pg_catalog.text AS acl, \
               l.lanname::pg_catalog.text AS language, \
               CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS definition, \
               p.prosrc AS source, p.probin AS object_file, \
               (SELECT pg_catalog.to_jsonb(a)::pg_catalog.text FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid) AS aggregate \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
               LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE ",
            ns_filter!("n", "p.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "trigger",
        catalog: "pg_trigger",
        filtered: true,
        sql: concat!(
            "SELECT n.nspname::pg_catalog.text AS qi_schema, c.relname::pg_catalog.text AS qi_table, t.tgname::pg_catalog.text AS qi_name, \
               pg_catalog.pg_get_triggerdef(t.oid, false) AS definition, t.tgenabled::pg_catalog.text AS enabled, \
               t.tgisinternal::pg_catalog.text AS internal \
             FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
            ns_filter!("n", "c.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "policy",
        catalog: "pg_policy",
        filtered: true,
        sql: concat!(
            "SELECT n.nspname::pg_catalog.text AS qi_schema, c.relname::pg_catalog.text AS qi_table, p.polname::pg_catalog.text AS qi_name, \
               p.polcmd::pg_catalog.text AS command, p.polpermissive::pg_catalog.text AS permissive, \
               p.polroles::pg_catalog.regrole[]::pg_catalog.text AS roles, \
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr, \
               pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr \
             FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
            ns_filter!("n", "c.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "rule",
        catalog: "pg_rewrite",
        filtered: true,
        sql: concat!(
            "SELECT n.nspname::pg_catalog.text AS qi_schema, c.relname::pg_catalog.text AS qi_table, r.rulename::pg_catalog.text AS qi_name, \
               pg_catalog.pg_get_ruledef(r.oid) AS definition, r.ev_enabled::pg_catalog.text AS enabled \
             FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.rulename <> '_RETURN' AND ",
            ns_filter!("n", "c.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "event-trigger",
        catalog: "pg_event_trigger",
        filtered: false,
        sql: "SELECT e.evtname::pg_catalog.text AS qi_name, e.evtevent::pg_catalog.text AS event, \
                pg_catalog.pg_get_userbyid(e.evtowner)::pg_catalog.text AS owner, \
                e.evtfoid::pg_catalog.regprocedure::pg_catalog.text AS function, e.evtenabled::pg_catalog.text AS enabled, \
                e.evttags::pg_catalog.text AS tags \
              FROM pg_catalog.pg_event_trigger e",
        sql_before_15: None,
    },
    Kind {
        prefix: "type",
        catalog: "pg_type, pg_enum, pg_range, pg_constraint (domains), pg_attribute (composite types)",
        filtered: true,
        sql: concat!(
            "SELECT n.nspname::pg_catalog.text AS qi_schema, t.typname::pg_catalog.text AS qi_name, \
               t.typtype::pg_catalog.text AS type_kind, pg_catalog.pg_get_userbyid(t.typowner)::pg_catalog.text AS owner, \
               t.typacl::pg_catalog.text AS acl, \
               CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base_type, \
               t.typnotnull::pg_catalog.text AS not_null, t.typdefault AS default_value, \
               t.typcollation::pg_catalog.regcollation::pg_catalog.text AS collation, \
               (SELECT pg_catalog.array_agg(pg_catalog.concat(co.conname, ': ', pg_catalog.pg_get_constraintdef(co.oid, true), \
                    CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END) ORDER BY co.conname COLLATE \"C\") \
                  FROM pg_catalog.pg_constraint co WHERE co.contypid = t.oid)::pg_catalog.text AS constraints, \
               (SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder) \
                  FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)::pg_catalog.text AS labels, \
               (SELECT pg_catalog.to_jsonb(r)::pg_catalog.text FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) AS range, \
               CASE WHEN t.typtype = 'c' THEN (SELECT pg_catalog.array_agg(pg_catalog.concat(a.attname, ' ', pg_catalog.format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum) \
                  FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)::pg_catalog.text END AS attributes, \
               CASE WHEN t.typtype = 'b' THEN pg_catalog.to_jsonb(t)::pg_catalog.text END AS base \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm') AND NOT (t.typcategory = 'A' AND t.typelem <> '0'::pg_catalog.oid) \
               AND (t.typrelid = '0'::pg_catalog.oid OR EXISTS (SELECT FROM pg_catalog.pg_class k WHERE k.oid = t.typrelid AND k.relkind = 'c')) AND ",
            ns_filter!("n", "t.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "operator",
        catalog: "pg_operator",
        filtered: true,
        sql: concat!(
            "SELECT o.oid::pg_catalog.regoperator::pg_catalog.text AS id_signature, \
               pg_catalog.pg_get_userbyid(o.oprowner)::pg_catalog.text AS owner, \
               o.oprcode::pg_catalog.regprocedure::pg_catalog.text AS function, o.oprrest::pg_catalog.text AS restrict, \
               o.oprjoin::pg_catalog.text AS join_estimator, o.oprcom::pg_catalog.regoperator::pg_catalog.text AS commutator, \
               o.oprnegate::pg_catalog.regoperator::pg_catalog.text AS negator, \
               o.oprcanmerge::pg_catalog.text AS merges, o.oprcanhash::pg_catalog.text AS hashes \
             FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE ",
            ns_filter!("n", "o.oid")
        ),
        sql_before_15: None,
    },
    Kind {
        prefix: "cast",
        catalog: "pg_cast",
        filtered: false,
        sql: "SELECT pg_catalog.concat('(', c.castsource::pg_catalog.regtype, ' AS ', c.casttarget::pg_catalog.regtype, ')') AS id_cast, \
                c.castfunc::pg_catalog.regprocedure::pg_catalog.text AS function, c.castcontext::pg_catalog.text AS context, \
                c.castmethod::pg_catalog.text AS method \
              FROM pg_catalog.pg_cast c WHERE c.oid >= '16384'::pg_catalog.oid",
        sql_before_15: None,
    },
    Kind {
        prefix: "language",
        catalog: "pg_language",
        filtered: false,
        sql: "SELECT l.lanname::pg_catalog.text AS qi_name, pg_catalog.pg_get_userbyid(l.lanowner)::pg_catalog.text AS owner, \
                l.lanpltrusted::pg_catalog.text AS trusted, l.lanplcallfoid::pg_catalog.regprocedure::pg_catalog.text AS handler, \
                l.laninline::pg_catalog.regprocedure::pg_catalog.text AS inline_handler, \
                l.lanvalidator::pg_catalog.regprocedure::pg_catalog.text AS validator, l.lanacl::pg_catalog.text AS acl \
              FROM pg_catalog.pg_language l",
        sql_before_15: None,
    },
    Kind {
        prefix: "extension",
        catalog: "pg_extension",
        filtered: false,
        sql: "SELECT x.extname::pg_catalog.text AS qi_name, x.extversion AS version, n.nspname::pg_catalog.text AS schema, \
                pg_catalog.pg_get_userbyid(x.extowner)::pg_catalog.text AS owner, x.extrelocatable::pg_catalog.text AS relocatable, \
                x.extconfig::pg_catalog.regclass[]::pg_catalog.text AS config_tables, x.extcondition::pg_catalog.text AS config_conditions \
              FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace",
        sql_before_15: None,
    },
    Kind {
        prefix: "publication",
        catalog: "pg_publication, pg_publication_rel, pg_publication_namespace",
        filtered: false,
        sql: "SELECT p.pubname::pg_catalog.text AS qi_name, pg_catalog.pg_get_userbyid(p.pubowner)::pg_catalog.text AS owner, \
                p.puballtables::pg_catalog.text AS all_tables, \
                pg_catalog.concat_ws(',', p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot) AS actions_insert_update_delete_truncate_viaroot, \
                (SELECT pg_catalog.array_agg(pg_catalog.concat(pr.prrelid::pg_catalog.regclass, ' WHERE ', pg_catalog.pg_get_expr(pr.prqual, pr.prrelid), ' COLUMNS ', pr.prattrs) \
                    ORDER BY pr.prrelid::pg_catalog.regclass::pg_catalog.text COLLATE \"C\") \
                   FROM pg_catalog.pg_publication_rel pr WHERE pr.prpubid = p.oid)::pg_catalog.text AS tables, \
                (SELECT pg_catalog.array_agg(pn.pnnspid::pg_catalog.regnamespace::pg_catalog.text ORDER BY pn.pnnspid::pg_catalog.regnamespace::pg_catalog.text COLLATE \"C\") \
                   FROM pg_catalog.pg_publication_namespace pn WHERE pn.pnpubid = p.oid)::pg_catalog.text AS schemas \
              FROM pg_catalog.pg_publication p",
        sql_before_15: Some(
            "SELECT p.pubname::pg_catalog.text AS qi_name, pg_catalog.pg_get_userbyid(p.pubowner)::pg_catalog.text AS owner, \
                p.puballtables::pg_catalog.text AS all_tables, \
                pg_catalog.concat_ws(',', p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot) AS actions_insert_update_delete_truncate_viaroot, \
                (SELECT pg_catalog.array_agg(pr.prrelid::pg_catalog.regclass::pg_catalog.text ORDER BY pr.prrelid::pg_catalog.regclass::pg_catalog.text COLLATE \"C\") \
                   FROM pg_catalog.pg_publication_rel pr WHERE pr.prpubid = p.oid)::pg_catalog.text AS tables \
              FROM pg_catalog.pg_publication p",
        ),
    },
    Kind {
        prefix: "foreign-data-wrapper",
        catalog: "pg_foreign_data_wrapper",
        filtered: false,
        sql: "SELECT w.fdwname::pg_catalog.text AS qi_name, pg_catalog.pg_get_userbyid(w.fdwowner)::pg_catalog.text AS owner, \
                w.fdwhandler::pg_catalog.regprocedure::pg_catalog.text AS handler, \
                w.fdwvalidator::pg_catalog.regprocedure::pg_catalog.text AS validator, \
                w.fdwacl::pg_catalog.text AS acl, w.fdwoptions::pg_catalog.text AS options \
              FROM pg_catalog.pg_foreign_data_wrapper w",
        sql_before_15: None,
    },
    Kind {
        prefix: "foreign-server",
        catalog: "pg_foreign_server",
        filtered: false,
        sql: "SELECT s.srvname::pg_catalog.text AS qi_name, w.fdwname::pg_catalog.text AS wrapper, \
                pg_catalog.pg_get_userbyid(s.srvowner)::pg_catalog.text AS owner, s.srvtype AS server_type, \
                s.srvversion AS server_version, s.srvacl::pg_catalog.text AS acl, s.srvoptions::pg_catalog.text AS options \
              FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw",
        sql_before_15: None,
    },
    Kind {
        prefix: "user-mapping",
        catalog: "pg_user_mappings",
        filtered: false,
        sql: "SELECT u.srvname::pg_catalog.text AS qi_server, u.usename::pg_catalog.text AS qi_role, \
                u.umoptions::pg_catalog.text AS options \
              FROM pg_catalog.pg_user_mappings u",
        sql_before_15: None,
    },
    Kind {
        prefix: "large-object",
        catalog: "pg_largeobject_metadata (the bytes: pg_largeobject)",
        filtered: false,
        sql: "SELECT m.oid::pg_catalog.text AS id_oid, pg_catalog.pg_get_userbyid(m.lomowner)::pg_catalog.text AS owner, \
                m.lomacl::pg_catalog.text AS acl \
              FROM pg_catalog.pg_largeobject_metadata m",
        sql_before_15: None,
    },
];

/// Builds the part name of a row from its identity columns: `qi_*` quoted
/// component by component, `id_*` as the server spelt it (one component
/// that is already unambiguous), NULL columns left out.
pub fn row_part(prefix: &str, identity: &[(&str, Option<&str>)]) -> String {
    let mut comps: Vec<String> = Vec::new();
    for (col, v) in identity {
        let Some(v) = v else { continue };
        if col.starts_with("id_") {
            comps.push((*v).to_string());
        } else {
            comps.push(super::quote::part_ident(v));
        }
    }
    if comps.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}:{}", comps.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_reads_pg_catalog_by_its_qualified_name() {
        for k in KINDS {
            for sql in std::iter::once(k.sql).chain(k.sql_before_15) {
                assert_eq!(sql.contains("$1"), k.filtered, "{}", k.prefix);
                // Every FROM/JOIN names a pg_catalog relation, qualified.
                for word in ["FROM ", "JOIN "] {
                    for (i, _) in sql.match_indices(word) {
                        let rest = &sql[i + word.len()..];
                        assert!(
                            rest.starts_with("pg_catalog.") || rest.starts_with("(SELECT"),
                            "{}: {word}{}",
                            k.prefix,
                            &rest[..rest.len().min(40)]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn part_names_quote_identity_columns() {
        assert_eq!(
            row_part(
                "trigger",
                &[
                    ("qi_schema", Some("a.b")),
                    ("qi_table", Some("t")),
                    ("qi_name", Some("T"))
                ]
            ),
            "trigger:\"a.b\".t.\"T\""
        );
        assert_eq!(
            row_part("function", &[("id_signature", Some("public.f(integer)"))]),
            "function:public.f(integer)"
        );
        assert_eq!(
            row_part(
                "default-privileges",
                &[
                    ("qi_role", Some("r")),
                    ("qi_schema", None),
                    ("qi_objects", Some("tables"))
                ]
            ),
            "default-privileges:r.tables"
        );
        assert_eq!(row_part("database", &[]), "database");
    }
}
