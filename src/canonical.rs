//! Canonical JSON: the one way holdfast writes JSON, and the strict way it reads it.
//!
//! Writing: object keys sorted by their bytes, two-space indentation, LF line
//! ends and exactly one trailing newline, so the same value always gives the
//! same bytes and the same sha256 (packets are reproducible byte for byte).
//!
//! Reading: duplicate object keys are an error (a JSON parser that keeps the
//! last duplicate lets an attacker hide a second value from a human reviewer),
//! nesting is bounded by serde_json's recursion limit, and the error names the
//! line and column.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Serializes `value` to canonical JSON bytes (sorted keys, 2-space indent,
/// LF, one trailing newline).
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value)
        .map_err(|e| Error::failed(format!("internal: value is not representable as JSON: {e}")))?;
    Ok(value_to_bytes(&value))
}

/// Canonical bytes of an already-built JSON value.
pub fn value_to_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value, 0);
    out.push(b'\n');
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            // Sort explicitly: serde_json keeps insertion order when any crate
            // in the build enables its `preserve_order` feature.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.extend_from_slice(b"{\n");
            for (i, key) in keys.iter().enumerate() {
                indent(out, depth + 1);
                write_scalar(out, &Value::String((*key).clone()));
                out.extend_from_slice(b": ");
                write_value(out, &map[key.as_str()], depth + 1);
                if i + 1 < keys.len() {
                    out.push(b',');
                }
                out.push(b'\n');
            }
            indent(out, depth);
            out.push(b'}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.extend_from_slice(b"[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
                if i + 1 < items.len() {
                    out.push(b',');
                }
                out.push(b'\n');
            }
            indent(out, depth);
            out.push(b']');
        }
        other => write_scalar(out, other),
    }
}

fn write_scalar(out: &mut Vec<u8>, value: &Value) {
    // serde_json's compact form of a scalar (or of an empty container) is
    // already unique: shortest round-trip numbers, minimal string escapes.
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn indent(out: &mut Vec<u8>, depth: usize) {
    for _ in 0..depth {
        out.extend_from_slice(b"  ");
    }
}

/// Parses JSON strictly: valid UTF-8, no duplicate keys, bounded nesting.
/// `path` is only used to name the file in the error.
pub fn parse_strict(bytes: &[u8], path: &Path) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| Error::malformed(path, format!("invalid JSON: {e}")))?;
    Ok(value)
}

/// Parses strictly, then deserializes into `T`; type errors name the file.
pub fn from_slice_strict<T: serde::de::DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T> {
    let value = parse_strict(bytes, path)?;
    serde_json::from_value(value).map_err(|e| Error::malformed(path, format!("{e}")))
}

/// Reads the JSON file at `path` (a regular file of at most `limit` bytes,
/// never through a final symlink) and deserializes it strictly into `T`.
pub fn read_strict<T: serde::de::DeserializeOwned>(path: &Path, limit: u64) -> Result<T> {
    let bytes = crate::fsio::read_regular(path, limit)?;
    from_slice_strict(&bytes, path)
}

/// A `DeserializeSeed` that builds a `serde_json::Value` but rejects duplicate keys.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(StrictValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_layout_is_fixed() {
        let v = json!({"b": 1, "a": {"d": [1, 2], "c": {}}, "e": []});
        let bytes = value_to_bytes(&v);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": {},\n    \"d\": [\n      1,\n      2\n    ]\n  },\n  \"b\": 1,\n  \"e\": []\n}\n"
        );
    }

    #[test]
    fn same_value_same_bytes_whatever_the_insertion_order() {
        let mut m1 = Map::new();
        m1.insert("z".into(), json!(1));
        m1.insert("a".into(), json!("x"));
        let mut m2 = Map::new();
        m2.insert("a".into(), json!("x"));
        m2.insert("z".into(), json!(1));
        assert_eq!(
            value_to_bytes(&Value::Object(m1)),
            value_to_bytes(&Value::Object(m2))
        );
    }

    #[test]
    fn output_round_trips_through_the_strict_parser() {
        let v = json!({"s": "é\n\"", "n": -3, "f": 1.5, "t": true, "z": null});
        let bytes = value_to_bytes(&v);
        assert_eq!(parse_strict(&bytes, Path::new("x")).unwrap(), v);
        assert!(bytes.ends_with(b"}\n") && !bytes.ends_with(b"\n\n"));
    }

    #[test]
    fn duplicate_keys_are_refused_with_the_key_named() {
        let err = parse_strict(br#"{"a": 1, "b": {"c": 1, "c": 2}}"#, Path::new("f.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f.json") && err.contains("duplicate key \"c\""),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_trailing_garbage_are_refused() {
        assert!(parse_strict(br#"{"a": [1, 2"#, Path::new("f")).is_err());
        assert!(parse_strict(br#"{"a": 1} x"#, Path::new("f")).is_err());
        assert!(parse_strict(b"\xff", Path::new("f")).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        let err = parse_strict(deep.as_bytes(), Path::new("f")).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }
}
