//! Identifier quoting, done in holdfast rather than by the server (no
//! server function is asked to quote, so none can be shadowed).
//!
//! Two spellings: [`sql_ident`] for SQL holdfast sends (always quoted, so a
//! keyword or an odd name can never change the statement) and
//! [`part_ident`] for part names (bare when the name is plain lower case, so
//! `table:public.accounts` reads naturally, quoted otherwise). Both are
//! injective, and a quoted component never contains an unescaped `"`, so
//! `a."b.c"` and `"a.b".c` are different part names.

/// `name` as a double-quoted SQL identifier (`"` doubled).
pub fn sql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name` for SQL, both parts quoted.
pub fn sql_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", sql_ident(schema), sql_ident(name))
}

/// Whether `name` can be written bare in a part name: starts with a lower
/// case ASCII letter or `_`, then lower case letters, digits, `_` or `$`.
fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

/// One component of a part name: bare when plain, else double-quoted with
/// `"` doubled (as PostgreSQL quotes identifiers).
pub fn part_ident(name: &str) -> String {
    if is_plain(name) {
        name.to_string()
    } else {
        sql_ident(name)
    }
}

/// `kind:<a>.<b>...`: the components quoted with [`part_ident`] and joined
/// by `.`; a kind with no components is just `kind`.
pub fn part_name(kind: &str, components: &[&str]) -> String {
    if components.is_empty() {
        return kind.to_string();
    }
    let quoted: Vec<String> = components.iter().map(|c| part_ident(c)).collect();
    format!("{kind}:{}", quoted.join("."))
}

/// Splits a part name's component list back into its components (the
/// inverse of the join in [`part_name`]); `None` when it is not a valid
/// spelling. Used by tests to show the spelling is injective.
pub fn split_components(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut cur = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        cur.push('"');
                    }
                    '"' => break,
                    c => cur.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                cur.push(c);
                chars.next();
            }
            if !is_plain(&cur) {
                return None;
            }
        }
        out.push(cur);
        match chars.next() {
            None => return Some(out),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dotted_names_do_not_collide() {
        let a = part_name("table", &["a", "b.c"]);
        let b = part_name("table", &["a.b", "c"]);
        assert_eq!(a, "table:a.\"b.c\"");
        assert_eq!(b, "table:\"a.b\".c");
        assert_ne!(a, b);
        assert_eq!(
            part_name("table", &["public", "accounts"]),
            "table:public.accounts"
        );
        assert_eq!(
            part_name("table", &["Public", "x\"y"]),
            "table:\"Public\".\"x\"\"y\""
        );
        assert_eq!(part_name("database", &[]), "database");
    }

    #[test]
    fn sql_identifiers_are_always_quoted() {
        assert_eq!(sql_ident("select"), "\"select\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_qualified("s", "t"), "\"s\".\"t\"");
    }

    proptest! {
        #[test]
        fn part_names_round_trip(parts in proptest::collection::vec(".{0,12}", 1..4)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let name = part_name("k", &refs);
            let rest = name.strip_prefix("k:").unwrap();
            prop_assert_eq!(split_components(rest), Some(parts.clone()));
        }
    }
}
