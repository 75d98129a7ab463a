//! The one verdict: the packet's scoping status and its production decision,
//! computed from plain facts.
//!
//! This module is the only code in holdfast that spells the pass token (the
//! default one is written in [`pass_token`] and nowhere else; a test greps the
//! source tree for it). Every other module asks [`pass_token`] for the token in
//! force, to scan outputs for leaks or inputs for forgeries, and only
//! [`verdict`] ever returns it as a decision.
//!
//! Rules (fail closed: whatever is not shown is not assumed):
//! - scoping status `<PREFIX>_READY` only when nothing is missing, the packet
//!   is sealed and verified, at least one probe ran and every probe failed
//!   closed without leaking the token, the forbidden-surface proof exists,
//!   covers at least one surface and has no CHANGED, mismatch or boundary
//!   error (DECLARED_NOT_CONTACTED is accepted but counted), and the rollback
//!   plan is complete. A failure reason gives `<PREFIX>_FAILED`; otherwise a
//!   missing piece gives `<PREFIX>_INCOMPLETE`.
//! - production decision: `HOLD_PRODUCTION` unless the status is READY, no
//!   blocker is open, and an option other than HOLD was selected, is
//!   admissible, and is covered by the authorization
//!   ([`Authorization::allows_selecting`]); then the pass token.

use std::collections::BTreeSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authz::Authorization;
use crate::error::{Error, Result};
use crate::gate::decision;
use crate::gate::facts::{BlockerFact, GateStatus, OptionFact, ProbeFact, ProofFacts};
use crate::model::proof::ProofStatus;

pub use crate::gate::decision::HOLD;

/// Status prefix used when the configured one is unusable.
const FALLBACK_PREFIX: &str = "HOLDFAST";

/// Largest evidence file holdfast reads.
pub const EVIDENCE_LIMIT: u64 = 16 * 1024 * 1024;

/// Words holdfast itself prints as statuses; a pass token containing one of
/// them would be "leaked" by every ordinary report.
const RESERVED_WORDS: [&str; 9] = [
    "HOLD",
    "READY",
    "INCOMPLETE",
    "FAILED",
    "UNTOUCHED",
    "CHANGED",
    "DECLARED_NOT_CONTACTED",
    "AUTHORIZED_MUTATION",
    "UNKNOWN",
];

/// The pass token in force: the configured one, or the default.
///
/// This function holds the only spelling of the default token in the code
/// base. The verdict is the only function that returns it as a decision;
/// everyone else asks here to know what to look for.
pub fn pass_token(configured: Option<&str>) -> &str {
    match configured {
        Some(token) => token,
        None => "PRODUCTION_PASS",
    }
}

/// Checks a configured pass token: two or more upper-case words joined by
/// `_`, 8 to 64 characters, containing none of holdfast's status words.
pub fn check_pass_token(token: &str) -> std::result::Result<(), String> {
    if !(8..=64).contains(&token.len()) {
        return Err("must be 8 to 64 characters long".into());
    }
    if !is_upper_words(token) || !token.contains('_') {
        return Err("must be upper-case words joined by '_', e.g. GO_LIVE_APPROVED".into());
    }
    if let Some(w) = RESERVED_WORDS.iter().find(|w| token.contains(*w)) {
        return Err(format!("must not contain the status word {w}"));
    }
    Ok(())
}

/// Checks a status prefix (the `<MACRO>` of `<MACRO>_READY`): upper-case
/// words joined by `_`, at most 200 characters, not containing the pass
/// token, a status suffix or `HOLD_PRODUCTION` (so a prefix cannot forge a
/// status). The error never repeats the prefix (it may hold the token).
pub fn check_status_prefix(prefix: &str, token: &str) -> std::result::Result<(), String> {
    if prefix.is_empty() || prefix.len() > 200 {
        return Err("must be 1 to 200 characters long".into());
    }
    if !is_upper_words(prefix) {
        return Err("must be upper-case letters and digits joined by '_'".into());
    }
    if prefix.contains(token) {
        return Err("contains the pass token; an input may not claim it".into());
    }
    for w in ["READY", "INCOMPLETE", "FAILED", HOLD] {
        if prefix.contains(w) {
            return Err(format!("contains the status word {w}"));
        }
    }
    Ok(())
}

fn is_upper_words(s: &str) -> bool {
    !s.is_empty()
        && s.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
        && s.as_bytes()[0].is_ascii_uppercase()
}

pub use crate::model::token::find_token_claim;

/// Everything the verdict is computed from: plain facts, so that the packet
/// run can fill it from the packet's own artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The `<MACRO>` of `<MACRO>_READY`, e.g. `FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING`.
    pub status_prefix: String,
    /// The configured pass token; absent means the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_token: Option<String>,
    /// Required artifacts the packet lacks (empty when complete).
    pub missing_artifacts: Vec<String>,
    /// The packet has its seal files.
    pub sealed: bool,
    /// `verify` found no problem.
    pub verified: bool,
    /// Every probe's outcome; absent (null) when the harness did not run.
    #[serde(default)]
    pub probes: Option<Vec<ProbeFact>>,
    /// The forbidden-surface proof; absent when there is none.
    #[serde(default)]
    pub proof: Option<ProofFacts>,
    /// Problems found in the rollback plan; absent when there is no plan.
    #[serde(default)]
    pub rollback_plan_problems: Option<Vec<String>>,
    /// Every blocker of the blocker map.
    pub blockers: Vec<BlockerFact>,
    /// The decision options other than HOLD_PRODUCTION.
    pub options: Vec<OptionFact>,
    /// The run's authorization.
    pub authorization: Authorization,
    /// The selected option, if any (a scoping run selects none).
    #[serde(default)]
    pub selected: Option<String>,
    /// Why the mutation the run asked for was not performed (outside the
    /// authorization, unsafe, or blocked by an incomplete plan); absent when
    /// it was performed or none was asked for. A refused request is a gate
    /// that said no: the packet cannot be READY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_refused: Option<String>,
    /// What the performed mutation's own evidence says is wrong (a fold
    /// result with invariant counts, invalid JSON, changed `objects[]`, a
    /// rollback rehearsal that was not byte-exact); empty when nothing is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutation_problems: Vec<String>,
    /// Why the mutation that was performed failed (a governed change that
    /// exited non-zero, timed out or changed a part outside its set, with
    /// what its rollback did); the packet cannot be READY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_failed: Option<String>,
}

impl Evidence {
    /// Reads an evidence JSON file strictly (duplicate keys, unknown keys,
    /// forged tokens and bad values are refused with the file named).
    pub fn load(path: &Path) -> Result<Evidence> {
        let bytes = crate::fsio::read_regular(path, EVIDENCE_LIMIT)?;
        Evidence::parse(&bytes, path)
    }

    /// Parses evidence JSON bytes; `path` names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Evidence> {
        let value = crate::canonical::parse_strict(bytes, path)?;
        let configured = value.get("pass_token").and_then(Value::as_str);
        let token = pass_token(configured);
        if let Some(at) = find_token_claim(&value, token, &["pass_token"]) {
            return Err(Error::malformed(
                path,
                format!("{at}: contains the pass token; only the verdict produces it"),
            ));
        }
        let evidence: Evidence =
            serde_json::from_value(value).map_err(|e| Error::malformed(path, e.to_string()))?;
        evidence.validate(path)?;
        Ok(evidence)
    }

    /// Checks what serde cannot: a usable token and prefix, unique ids.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let token = pass_token(self.pass_token.as_deref());
        if self.pass_token.is_some() {
            check_pass_token(token)
                .map_err(|why| Error::malformed(path, format!("pass_token: {why}")))?;
        }
        check_status_prefix(&self.status_prefix, token)
            .map_err(|why| Error::malformed(path, format!("status_prefix: {why}")))?;
        self.authorization.validate(path)?;
        let mut seen = BTreeSet::new();
        for (i, b) in self.blockers.iter().enumerate() {
            if b.id.is_empty() || !seen.insert(b.id.as_str()) {
                return Err(Error::malformed(
                    path,
                    format!("blockers[{i}].id: empty or listed twice"),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, o) in self.options.iter().enumerate() {
            if let Err(why) = decision::check_option_id(&o.id) {
                return Err(Error::malformed(path, format!("options[{i}].id: {why}")));
            }
            if !seen.insert(o.id.as_str()) {
                return Err(Error::malformed(
                    path,
                    format!("options[{i}].id: listed twice"),
                ));
            }
        }
        if let Some(probes) = &self.probes {
            let mut seen = BTreeSet::new();
            for (i, p) in probes.iter().enumerate() {
                if p.id.is_empty() || !seen.insert(p.id.as_str()) {
                    return Err(Error::malformed(
                        path,
                        format!("probes[{i}].id: empty or listed twice"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The scoping state, before the prefix is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scoping {
    /// Complete, sealed, verified, probes closed, surfaces proven.
    Ready,
    /// Something required is missing or was not run.
    Incomplete,
    /// The evidence shows a failure.
    Failed,
}

impl Scoping {
    fn suffix(self) -> &'static str {
        match self {
            Scoping::Ready => "READY",
            Scoping::Incomplete => "INCOMPLETE",
            Scoping::Failed => "FAILED",
        }
    }
}

/// What the verdict says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Verdict {
    /// `<PREFIX>_READY`, `<PREFIX>_INCOMPLETE` or `<PREFIX>_FAILED`.
    pub status: String,
    /// The state behind the status.
    pub scoping: Scoping,
    /// Why the status is FAILED (empty otherwise).
    pub failures: Vec<String>,
    /// What is missing (empty when nothing is).
    pub missing: Vec<String>,
    /// Forbidden surfaces only declared not contacted (accepted, weaker).
    pub declared_not_contacted: usize,
    /// `HOLD_PRODUCTION`, or the pass token.
    pub decision: String,
    /// True only when the decision is the pass token.
    pub pass: bool,
    /// Why production stays on hold (empty only on a pass).
    pub hold_reasons: Vec<String>,
    /// Options admissible now, HOLD_PRODUCTION first.
    pub admissible_now: Vec<String>,
    /// The selected option, or `none`.
    pub selected: String,
}

/// Computes the verdict from the evidence. Pure and total: any fact it cannot
/// use counts against a pass, never for it.
pub fn verdict(e: &Evidence) -> Verdict {
    let mut failures: Vec<String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();

    let token_ok = check_pass_token(pass_token(e.pass_token.as_deref()));
    if let Err(why) = &token_ok {
        failures.push(format!("the configured pass token is unusable: {why}"));
    }
    let token = pass_token(e.pass_token.as_deref());
    let prefix = match check_status_prefix(&e.status_prefix, token) {
        Ok(()) => e.status_prefix.as_str(),
        Err(why) => {
            failures.push(format!("the status prefix is unusable: {why}"));
            FALLBACK_PREFIX
        }
    };

    if !e.missing_artifacts.is_empty() {
        let mut names = e.missing_artifacts.clone();
        names.sort();
        names.dedup();
        missing.push(format!("missing artifact(s): {}", names.join(", ")));
    }
    if let Some(why) = &e.mutation_refused {
        failures.push(format!("the requested mutation was not performed: {why}"));
    }
    for why in &e.mutation_problems {
        failures.push(format!("the performed mutation's evidence: {why}"));
    }
    if let Some(why) = &e.mutation_failed {
        failures.push(format!("the performed mutation failed: {why}"));
    }
    if !e.sealed {
        missing.push("the packet is not sealed".into());
    } else if !e.verified {
        failures.push("the packet does not verify against its seal".into());
    }

    match &e.probes {
        None => missing.push("the bad-input probes were not run".into()),
        Some(list) if list.is_empty() => missing.push("no bad-input probe ran".into()),
        Some(list) => {
            let ids = |pred: &dyn Fn(&ProbeFact) -> bool| -> Vec<String> {
                let mut v: Vec<String> = list
                    .iter()
                    .filter(|p| pred(p))
                    .map(|p| p.id.clone())
                    .collect();
                v.sort();
                v
            };
            let not_run = ids(&|p| p.outcome == crate::gate::facts::Outcome::NotRun);
            let bad =
                ids(&|p| !p.fail_closed() && p.outcome != crate::gate::facts::Outcome::NotRun);
            let leaked = ids(&|p| p.token_leaked);
            if !bad.is_empty() {
                failures.push(format!(
                    "{} probe(s) did not fail closed: {}",
                    bad.len(),
                    bad.join(", ")
                ));
            }
            if !leaked.is_empty() {
                failures.push(format!(
                    "the pass token leaked from {} probe(s): {}",
                    leaked.len(),
                    leaked.join(", ")
                ));
            }
            if !not_run.is_empty() {
                missing.push(format!(
                    "{} probe(s) not run: {}",
                    not_run.len(),
                    not_run.join(", ")
                ));
            }
        }
    }

    let mut declared_not_contacted = 0;
    match &e.proof {
        None => missing.push("there is no forbidden-surface proof".into()),
        Some(p) if p.entries.is_empty() => {
            missing.push("the forbidden-surface proof covers no surface".into())
        }
        Some(p) => {
            let mut bad: Vec<String> = Vec::new();
            for f in &p.entries {
                // A governed change's statuses are judged as the fold's.
                match f.result {
                    ProofStatus::Changed => {
                        bad.push(format!("{} changed (boundary {})", f.surface, f.boundary))
                    }
                    ProofStatus::AuthorizedMutationMismatch
                    | ProofStatus::AuthorizedChangeOutsideScope => bad.push(format!(
                        "{} changed, but not to the authorized pins (boundary {})",
                        f.surface, f.boundary
                    )),
                    ProofStatus::DeclaredNotContacted => declared_not_contacted += 1,
                    ProofStatus::Untouched
                    | ProofStatus::AuthorizedMutationMatched
                    | ProofStatus::AuthorizedChangeMatched => {}
                }
            }
            bad.sort();
            for b in bad {
                failures.push(format!("forbidden surface {b}"));
            }
            let mut errs = p.boundary_errors.clone();
            errs.sort();
            for b in errs {
                failures.push(format!("boundary error: {b}"));
            }
        }
    }

    match &e.rollback_plan_problems {
        None => missing.push("there is no rollback plan".into()),
        Some(p) if !p.is_empty() => {
            missing.push(format!("the rollback plan is incomplete: {}", p.join("; ")))
        }
        Some(_) => {}
    }

    let scoping = if !failures.is_empty() {
        Scoping::Failed
    } else if !missing.is_empty() {
        Scoping::Incomplete
    } else {
        Scoping::Ready
    };

    let gates = GateStatus::from_facts(
        e.probes.as_deref(),
        e.proof.as_ref(),
        e.rollback_plan_problems.as_deref(),
    );
    let admissible_now = decision::admissible_now(&e.options, &e.blockers, &gates);

    let mut hold_reasons: Vec<String> = Vec::new();
    if scoping != Scoping::Ready {
        hold_reasons.push(format!(
            "the scoping status is not {}",
            Scoping::Ready.suffix()
        ));
    }
    let open = decision::open_blockers(&e.blockers);
    if !open.is_empty() {
        hold_reasons.push(format!(
            "{} blocker(s) open: {}",
            open.len(),
            open.join(", ")
        ));
    }
    match e.selected.as_deref() {
        None => hold_reasons.push("no option was selected".into()),
        Some(HOLD) => hold_reasons.push(format!("{HOLD} was selected")),
        Some(id) => {
            if !e.options.iter().any(|o| o.id == id) {
                hold_reasons.push(format!("the selected option {id} is not an option"));
            } else if !admissible_now.iter().any(|a| a == id) {
                hold_reasons.push(format!("the selected option {id} is not admissible now"));
            }
            if !e.authorization.allows_selecting(id) {
                hold_reasons.push(format!("the authorization does not cover selecting {id}"));
            }
        }
    }
    if token_ok.is_err() {
        hold_reasons.push("the configured pass token is unusable".into());
    }

    let pass = hold_reasons.is_empty();
    let decision = if pass {
        token.to_string()
    } else {
        HOLD.to_string()
    };
    // Only `decision` may carry the token: every echoed input is redacted,
    // so a forged id cannot smuggle it into the verdict's output.
    // An unusable token is never produced, so there is nothing to redact.
    let redact = |s: String| {
        if token_ok.is_err() {
            s
        } else {
            s.replace(token, "<pass token>")
        }
    };
    let redact_all = |v: Vec<String>| v.into_iter().map(redact).collect::<Vec<_>>();
    Verdict {
        status: format!("{prefix}_{}", scoping.suffix()),
        scoping,
        failures: redact_all(failures),
        missing: redact_all(missing),
        declared_not_contacted,
        decision,
        pass,
        hold_reasons: redact_all(hold_reasons),
        admissible_now: redact_all(admissible_now),
        selected: redact(e.selected.clone().unwrap_or_else(|| "none".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Scope;
    use crate::gate::facts::{Outcome, ProofFact};

    /// Evidence that earns the pass token (the base of the property tests).
    pub(crate) fn passing() -> Evidence {
        Evidence {
            status_prefix: "FIX7_P0_SCOPING".into(),
            pass_token: None,
            missing_artifacts: vec![],
            sealed: true,
            verified: true,
            probes: Some(vec![ProbeFact {
                id: "tampered-artifact/flip-byte".into(),
                outcome: Outcome::FailClosed,
                token_leaked: false,
                timeout_counts_as_fail_closed: false,
            }]),
            proof: Some(ProofFacts {
                entries: vec![ProofFact {
                    boundary: "production-mutation".into(),
                    surface: "pg".into(),
                    result: ProofStatus::Untouched,
                }],
                boundary_errors: vec![],
            }),
            rollback_plan_problems: Some(vec![]),
            blockers: vec![BlockerFact {
                id: "BLK-1".into(),
                open: false,
            }],
            options: vec![OptionFact {
                id: "PROCEED".into(),
                requires_closed: vec!["BLK-1".into()],
                requires_gates: vec![crate::gate::facts::GateName::Probes],
            }],
            authorization: Authorization {
                text: "production: select PROCEED".into(),
                scope: Scope::Production,
                mutations: vec![],
                select: vec!["PROCEED".into()],
            },
            selected: Some("PROCEED".into()),
            mutation_refused: None,
            mutation_problems: vec![],
            mutation_failed: None,
        }
    }

    #[test]
    fn a_mutation_whose_own_evidence_is_wrong_fails_the_packet() {
        let mut e = passing();
        e.mutation_problems = vec!["the rollback rehearsal was not byte-exact".into()];
        let v = verdict(&e);
        assert!(!v.pass, "{v:?}");
        assert_eq!(v.status, "FIX7_P0_SCOPING_FAILED");
        assert_eq!(v.decision, HOLD);
        assert!(
            v.failures.iter().any(|f| f.contains("not byte-exact")),
            "{v:?}"
        );
    }

    #[test]
    fn full_evidence_passes_and_only_then() {
        let v = verdict(&passing());
        assert!(v.pass, "{v:?}");
        assert_eq!(v.decision, pass_token(None));
        assert_eq!(v.status, "FIX7_P0_SCOPING_READY");
        assert_eq!(v.admissible_now, vec![HOLD.to_string(), "PROCEED".into()]);
    }

    #[test]
    fn scoping_run_with_open_blockers_holds_with_only_hold_admissible() {
        let mut e = passing();
        e.blockers[0].open = true;
        e.selected = None;
        e.authorization.scope = Scope::Scoping;
        e.authorization.select.clear();
        let v = verdict(&e);
        assert_eq!(v.decision, HOLD);
        assert_eq!(v.status, "FIX7_P0_SCOPING_READY");
        assert_eq!(v.admissible_now, vec![HOLD.to_string()]);
        assert_eq!(v.selected, "none");
        assert!(v.hold_reasons.iter().any(|r| r.contains("BLK-1")), "{v:?}");
    }

    #[test]
    fn declared_not_contacted_is_accepted_but_counted() {
        let mut e = passing();
        if let Some(p) = e.proof.as_mut() {
            p.entries[0].result = ProofStatus::DeclaredNotContacted;
        }
        let v = verdict(&e);
        assert_eq!(v.scoping, Scoping::Ready);
        assert_eq!(v.declared_not_contacted, 1);
    }

    #[test]
    fn failures_outrank_missing_pieces() {
        let mut e = passing();
        e.missing_artifacts.push("README.md".into());
        assert_eq!(verdict(&e).status, "FIX7_P0_SCOPING_INCOMPLETE");
        if let Some(p) = e.proof.as_mut() {
            p.boundary_errors.push("secrets matches no surface".into());
        }
        let v = verdict(&e);
        assert_eq!(v.status, "FIX7_P0_SCOPING_FAILED");
        assert_eq!(v.decision, HOLD);
        assert!(v.failures[0].contains("secrets"), "{v:?}");
    }

    #[test]
    fn a_forged_prefix_or_selection_never_echoes_the_token() {
        let token = pass_token(None).to_string();
        let mut e = passing();
        e.status_prefix = format!("X_{token}");
        let v = verdict(&e);
        assert_eq!(v.status, "HOLDFAST_FAILED");
        assert!(!v.pass);
        let mut e = passing();
        e.selected = Some(token.clone());
        let v = verdict(&e);
        assert!(!v.pass);
        let text = serde_json::to_string(&v).unwrap();
        assert!(!text.contains(&token), "{text}");
    }

    #[test]
    fn tokens_and_prefixes_are_checked() {
        assert!(check_pass_token(pass_token(None)).is_ok());
        assert!(check_pass_token("GO_LIVE_APPROVED").is_ok());
        for bad in [
            "",
            "GO_ON",
            "go_live_now",
            "HOLD_PRODUCTION",
            "X_READY_NOW",
            "GOLIVENOW",
            "A__B_CDEFG",
        ] {
            assert!(check_pass_token(bad).is_err(), "{bad}");
        }
        let t = pass_token(None);
        assert!(check_status_prefix("FIX7_P0_PRODUCTION_READINESS_SURFACE_SCOPING", t).is_ok());
        for bad in ["", "fix7", "X_READY", "X_FAILED", "_X", "X_", "X__Y", "X-Y"] {
            assert!(check_status_prefix(bad, t).is_err(), "{bad}");
        }
        assert!(check_status_prefix(&format!("A_{t}"), t).is_err());
    }

    #[test]
    fn token_claims_are_found_anywhere_but_the_configured_key() {
        let t = pass_token(None);
        let v = serde_json::json!({"pass_token": t, "a": [{"b": format!("x{t}")}]});
        assert_eq!(
            find_token_claim(&v, t, &["pass_token"]).as_deref(),
            Some("a[0].b")
        );
        let v = serde_json::json!({"pass_token": t});
        assert_eq!(find_token_claim(&v, t, &["pass_token"]), None);
        assert!(find_token_claim(&v, t, &[]).is_some());
        let v = serde_json::json!({"o": {t: 1}});
        assert!(find_token_claim(&v, t, &[]).is_some());
        let v = serde_json::json!({"probe": [{"command": ["x"]}, {"command": [t], "title": "y"}]});
        assert_eq!(find_token_claim(&v, t, &["probe[*].command"]), None);
        assert_eq!(
            find_token_claim(&v, t, &["probe[0].command"]).as_deref(),
            Some("probe[1].command[0]")
        );
    }

    #[test]
    fn evidence_parsing_refuses_forgeries_and_unknown_keys() {
        let good = serde_json::to_vec(&passing()).unwrap();
        assert!(Evidence::parse(&good, Path::new("e.json")).is_ok());
        let t = pass_token(None);
        let text = String::from_utf8(good).unwrap();
        let forged = text.replacen('{', &format!("{{\"status\": \"{t}\","), 1);
        let err = Evidence::parse(forged.as_bytes(), Path::new("e.json")).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string().contains("status: contains the pass token"),
            "{err}"
        );
        let unknown = text.replacen('{', "{\"force\": true,", 1);
        let err = Evidence::parse(unknown.as_bytes(), Path::new("e.json")).unwrap_err();
        assert!(err.to_string().contains("unknown field `force`"), "{err}");
    }
}
