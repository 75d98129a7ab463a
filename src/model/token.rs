//! Finding the pass token in an input: every reader of user-written JSON
//! or TOML refuses an input that spells it, because only the verdict
//! produces it. The token itself is spelled in one place
//! (`gate::verdict::pass_token`); this is only the search.

use serde_json::Value;

/// Returns the key path of the first string or key in `value` that contains
/// `token`, skipping the dotted key paths in `skip` (where the token may be
/// spelled; `[*]` matches any array index). Inputs never carry the token:
/// only the verdict produces it.
pub fn find_token_claim(value: &Value, token: &str, skip: &[&str]) -> Option<String> {
    find_string(value, &|_, here| skipped(here, skip), &|s| {
        s.contains(token).then_some(())
    })
    .map(|(at, ())| at)
}

/// The first string of `value`, key or value, for which `hit` answers,
/// and where it is: the key path of a value (`probe[3].command`, or
/// `(top level)`), or `a key under` the path of a key's parent (the key
/// itself may be what must not be shown). Keys are visited in sorted order,
/// so the answer does not depend on the input's order; a key for which
/// `skip(key, path)` holds is not looked into (its own spelling still is).
/// One walk for every "no such string anywhere" rule (the pass token, hidden
/// characters), so they cannot disagree on what they visit.
pub fn find_string<T>(
    value: &Value,
    skip: &dyn Fn(&str, &str) -> bool,
    hit: &dyn Fn(&str) -> Option<T>,
) -> Option<(String, T)> {
    fn shown(at: &str) -> String {
        if at.is_empty() {
            "(top level)".into()
        } else {
            at.into()
        }
    }
    fn walk<T>(
        v: &Value,
        at: &str,
        skip: &dyn Fn(&str, &str) -> bool,
        hit: &dyn Fn(&str) -> Option<T>,
    ) -> Option<(String, T)> {
        match v {
            Value::String(s) => hit(s).map(|t| (shown(at), t)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{at}[{i}]"), skip, hit)),
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                keys.into_iter().find_map(|k| {
                    if let Some(t) = hit(k) {
                        return Some((format!("a key under {}", shown(at)), t));
                    }
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    if skip(k, &here) {
                        return None;
                    }
                    walk(&map[k], &here, skip, hit)
                })
            }
            _ => None,
        }
    }
    walk(value, "", skip, hit)
}

/// Whether key path `at` (e.g. `probe[3].command`) matches one of `skip`
/// (e.g. `probe[*].command`).
fn skipped(at: &str, skip: &[&str]) -> bool {
    let mut general = String::with_capacity(at.len());
    let mut in_index = false;
    for c in at.chars() {
        match c {
            '[' => {
                in_index = true;
                general.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => general.push(c),
        }
    }
    skip.iter().any(|s| *s == at || *s == general)
}
