//! Finds where a key sits in a TOML text, so that a rule serde cannot express
//! (a duplicate id, a gate missing on a known surface) is still reported with
//! the line of the offending key, like every other spec error.
//!
//! The text is re-parsed into toml's spanned document tree only when an error
//! is being reported: the happy path pays nothing.

use toml::de::{DeTable, DeValue};

/// One step of a path into a TOML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    /// A key of a table.
    Key(&'a str),
    /// An element of an array (for `[[surface]]`, the n-th surface, from 0).
    Index(usize),
}

/// Byte offset of the deepest part of `path` that exists in `text`: the key
/// itself when present, else the table that should have held it. `None` only
/// when the text does not parse (then serde already reported it).
pub(crate) fn locate(text: &str, path: &[Seg<'_>]) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut best = root.span().start;
    let mut table = root.get_ref();
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for seg in path {
        match *seg {
            Seg::Key(k) => {
                let t = match value {
                    None => table,
                    Some(v) => match v.get_ref() {
                        DeValue::Table(t) => t,
                        _ => return Some(best),
                    },
                };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k) else {
                    return Some(best);
                };
                best = key.span().start;
                table = t;
                value = Some(v);
            }
            Seg::Index(i) => {
                let Some(DeValue::Array(items)) = value.map(|v| v.get_ref()) else {
                    return Some(best);
                };
                let Some(item) = items.get(i) else {
                    return Some(best);
                };
                best = item.span().start;
                value = Some(item);
            }
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tomlio::line_col;

    const TEXT: &str = "[policy]\nrequire_digest_for = [\"critical\"]\n\n[[surface]]\nid = \"a\"\nrisk = \"low\"\n\n[[surface]]\nid = \"b\"\nname = \"B\"\n[[surface.evidence]]\npath = \"x\"\n";

    fn line(path: &[Seg<'_>]) -> usize {
        line_col(TEXT.as_bytes(), locate(TEXT, path).unwrap()).0
    }

    #[test]
    fn keys_of_array_tables_are_found_on_their_own_line() {
        assert_eq!(
            line(&[Seg::Key("surface"), Seg::Index(0), Seg::Key("risk")]),
            6
        );
        assert_eq!(
            line(&[Seg::Key("surface"), Seg::Index(1), Seg::Key("id")]),
            9
        );
        assert_eq!(
            line(&[Seg::Key("policy"), Seg::Key("require_digest_for")]),
            2
        );
        let ev = [
            Seg::Key("surface"),
            Seg::Index(1),
            Seg::Key("evidence"),
            Seg::Index(0),
            Seg::Key("path"),
        ];
        assert_eq!(line(&ev), 12);
    }

    #[test]
    fn a_missing_key_points_at_its_table() {
        let l = line(&[Seg::Key("surface"), Seg::Index(1), Seg::Key("gate")]);
        assert!((8..=9).contains(&l), "line {l}");
        let l = line(&[Seg::Key("surface"), Seg::Index(0), Seg::Key("gate")]);
        assert!((4..=5).contains(&l), "line {l}");
    }

    #[test]
    fn unparsable_text_gives_none() {
        assert_eq!(locate("a = ", &[Seg::Key("a")]), None);
    }
}
