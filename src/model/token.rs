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
    fn walk(v: &Value, token: &str, at: &str, skip: &[&str]) -> Option<String> {
        match v {
            Value::String(s) if s.contains(token) => Some(if at.is_empty() {
                "(top level)".into()
            } else {
                at.to_string()
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, token, &format!("{at}[{i}]"), skip)),
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                keys.into_iter().find_map(|k| {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    if k.contains(token) {
                        // Name the parent, not the key: the key spells the token.
                        let parent = if at.is_empty() { "(top level)" } else { at };
                        return Some(format!("a key under {parent}"));
                    }
                    if skipped(&here, skip) {
                        return None;
                    }
                    walk(&map[k], token, &here, skip)
                })
            }
            _ => None,
        }
    }
    walk(value, token, "", skip)
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
