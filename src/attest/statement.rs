//! in-toto Statement v1: the signed payload. It binds a predicate (what
//! holdfast says) to subjects (files, each named with its sha256).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// An in-toto Statement v1 with its predicate as plain JSON (read by the
/// predicate's own type once `predicateType` says which it is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The files the statement is about.
    pub subject: Vec<Subject>,
    /// What the predicate is (a holdfast predicate type URI).
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: Value,
}

/// One subject: a file name and its digests (holdfast writes only `sha256`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Path of the file, relative to the packet or spec root, `/`-separated.
    pub name: String,
    /// Algorithm to lowercase hex digest.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with one sha256 digest.
    pub fn sha256(name: &str, hex: &str) -> Subject {
        Subject {
            name: name.to_string(),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
        }
    }
}

impl Statement {
    /// A statement over `subject` with a predicate.
    pub fn new(subject: Vec<Subject>, predicate_type: &str, predicate: Value) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE.to_string(),
            subject,
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// The serialized body that gets signed: canonical JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::canonical::to_bytes(self)
    }

    /// Parses a signed body strictly (no duplicate key, no unknown field) and
    /// checks `_type`.
    pub fn parse(body: &[u8], what: &Path) -> Result<Statement> {
        let s: Statement = crate::canonical::from_slice_strict(body, what)?;
        if s.statement_type != STATEMENT_TYPE {
            return Err(Error::malformed(
                what,
                format!(
                    "_type is {:?}, not an in-toto Statement v1 ({STATEMENT_TYPE})",
                    s.statement_type
                ),
            ));
        }
        Ok(s)
    }
}

/// Where a signed subject list differs from the files as they are: each
/// problem one line. `expected` is (name, sha256) per file. The lists must
/// name exactly the same files, each once, each with exactly one digest,
/// sha256, equal to the file's.
pub fn subject_differences(signed: &[Subject], expected: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let want: HashMap<&str, &str> = expected
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(signed.len());
    for s in signed {
        if seen.insert(s.name.as_str(), ()).is_some() {
            problems.push(format!("subject {} is listed twice", s.name));
            continue;
        }
        let digest = match (s.digest.len(), s.digest.get("sha256")) {
            (1, Some(d)) => d.as_str(),
            _ => {
                problems.push(format!(
                    "subject {} must carry exactly one digest, sha256",
                    s.name
                ));
                continue;
            }
        };
        match want.get(s.name.as_str()) {
            None => problems.push(format!(
                "subject {} is signed but not in the packet's file list",
                s.name
            )),
            Some(h) if *h != digest => problems.push(format!(
                "subject {}: signed sha256 {digest}, the file list has {h}",
                s.name
            )),
            Some(_) => {}
        }
    }
    for (name, _) in expected {
        if !seen.contains_key(name.as_str()) {
            problems.push(format!("file {name} is listed but not a signed subject"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Vec<(String, String)> {
        vec![("a".into(), "11".into()), ("b".into(), "22".into())]
    }

    #[test]
    fn equal_lists_have_no_difference() {
        let s = vec![Subject::sha256("b", "22"), Subject::sha256("a", "11")];
        assert!(subject_differences(&s, &exp()).is_empty());
    }

    #[test]
    fn added_removed_changed_and_duplicated_subjects_are_found() {
        let added = vec![
            Subject::sha256("a", "11"),
            Subject::sha256("b", "22"),
            Subject::sha256("c", "33"),
        ];
        assert_eq!(subject_differences(&added, &exp()).len(), 1);
        let removed = vec![Subject::sha256("a", "11")];
        assert_eq!(subject_differences(&removed, &exp()).len(), 1);
        let changed = vec![Subject::sha256("a", "11"), Subject::sha256("b", "23")];
        assert_eq!(subject_differences(&changed, &exp()).len(), 1);
        let dup = vec![
            Subject::sha256("a", "11"),
            Subject::sha256("a", "11"),
            Subject::sha256("b", "22"),
        ];
        assert_eq!(subject_differences(&dup, &exp()).len(), 1);
        let mut two = Subject::sha256("a", "11");
        two.digest.insert("sha512".into(), "x".into());
        let extra_alg = vec![two, Subject::sha256("b", "22")];
        assert_eq!(subject_differences(&extra_alg, &exp()).len(), 1);
    }

    #[test]
    fn parse_checks_type_and_refuses_unknown_fields() {
        let p = Path::new("x");
        let ok = Statement::new(vec![], "t", serde_json::json!({}))
            .to_bytes()
            .unwrap();
        assert!(Statement::parse(&ok, p).is_ok());
        let wrong = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicateType":"t","predicate":{}}"#;
        assert_eq!(Statement::parse(wrong, p).unwrap_err().exit_code(), 3);
        let extra = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"t","predicate":{},"x":0}"#;
        assert_eq!(Statement::parse(extra, p).unwrap_err().exit_code(), 3);
    }
}
