//! The next production decision: the options, their preconditions, which are
//! admissible now, and what (if anything) was selected.
//!
//! `HOLD_PRODUCTION` is always an option, always admissible, and the default.
//! Any other option is admissible only while no blocker is open and its own
//! preconditions (blockers that must be closed, gates that must be met) hold.
//! Selecting needs an authorization that names the option; a scoping
//! authorization refuses to select anything.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::{Authorization, Scope};
use crate::error::{Error, Result};
use crate::gate::blocker::BlockerMap;
use crate::gate::facts::{BlockerFact, GateName, GateState, GateStatus, OptionFact};

/// The default decision, always an option and always admissible.
pub const HOLD: &str = "HOLD_PRODUCTION";

/// One decision option of gates.toml (`[[option]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    /// Upper-case id, e.g. `PROCEED_TO_REHEARSAL` (`HOLD_PRODUCTION` is built in).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// What choosing it means, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Blocker ids (declared, or derived ones such as `unknown-surface:ci`)
    /// that must be closed.
    #[serde(default)]
    pub requires_closed: Vec<String>,
    /// Gates that must be met: `probes`, `forbidden-surface-proof`, `rollback-plan`.
    #[serde(default)]
    pub requires_gates: Vec<GateName>,
}

impl OptionSpec {
    /// The option as the verdict sees it.
    pub fn fact(&self) -> OptionFact {
        OptionFact {
            id: self.id.clone(),
            requires_closed: self.requires_closed.clone(),
            requires_gates: self.requires_gates.clone(),
        }
    }
}

/// Checks an option id: upper-case words joined by `_`, not `HOLD_PRODUCTION`
/// (built in) and not `NONE` (the word for "nothing selected").
pub fn check_option_id(id: &str) -> std::result::Result<(), String> {
    let words_ok = !id.is_empty()
        && id.len() <= 64
        && id.as_bytes()[0].is_ascii_uppercase()
        && id.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
    if !words_ok {
        return Err("must be 1 to 64 upper-case letters and digits joined by '_'".into());
    }
    if id == HOLD {
        return Err(format!("{HOLD} is built in and cannot be redefined"));
    }
    if id == "NONE" {
        return Err("NONE is reserved".into());
    }
    Ok(())
}

/// Ids of the blockers that count as open, sorted.
pub fn open_blockers(blockers: &[BlockerFact]) -> Vec<String> {
    let set: BTreeSet<&str> = blockers
        .iter()
        .filter(|b| b.open)
        .map(|b| b.id.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// Why `option` is not admissible now (empty: it is).
pub fn unmet(option: &OptionFact, blockers: &[BlockerFact], gates: &GateStatus) -> Vec<String> {
    let mut why = Vec::new();
    let open = open_blockers(blockers);
    if !open.is_empty() {
        why.push(format!("{} blocker(s) open", open.len()));
    }
    for id in &option.requires_closed {
        let matching: Vec<&BlockerFact> = blockers.iter().filter(|b| &b.id == id).collect();
        if matching.is_empty() {
            why.push(format!("required blocker {id} is not in the blocker map"));
        } else if matching.iter().any(|b| b.open) {
            why.push(format!("required blocker {id} is open"));
        }
    }
    for g in &option.requires_gates {
        let c = gates.get(*g);
        if c.state != GateState::Met {
            why.push(format!("gate {} not met: {}", g.as_str(), c.detail));
        }
    }
    why
}

/// Options admissible now: HOLD_PRODUCTION first, then the others in order.
pub fn admissible_now(
    options: &[OptionFact],
    blockers: &[BlockerFact],
    gates: &GateStatus,
) -> Vec<String> {
    let mut out = vec![HOLD.to_string()];
    for o in options {
        if o.id != HOLD && unmet(o, blockers, gates).is_empty() && !out.contains(&o.id) {
            out.push(o.id.clone());
        }
    }
    out
}

/// One option in the decision packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionRecord {
    /// Option id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// What choosing it means.
    pub description: String,
    /// Blockers that must be closed.
    pub requires_closed: Vec<String>,
    /// Gates that must be met.
    pub requires_gates: Vec<GateName>,
    /// Admissible now.
    pub admissible: bool,
    /// Why not (empty when admissible).
    pub unmet: Vec<String>,
}

/// The authorization the packet was made under, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRecord {
    /// `scoping` or `production`.
    pub scope: Scope,
    /// The authorization text, word for word.
    pub text: String,
    /// Options it allows selecting.
    pub select: Vec<String>,
}

/// `next-production-decision-packet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionPacket {
    /// Always `HOLD_PRODUCTION`.
    pub default: String,
    /// Every option, HOLD_PRODUCTION first.
    pub options: Vec<OptionRecord>,
    /// Ids of the options admissible now.
    pub admissible_now: Vec<String>,
    /// The selected option, or `none`.
    pub selected: String,
    /// Ids of the blockers that count as open.
    pub open_blockers: Vec<String>,
    /// The gates options can require, and their state.
    pub gates: GateStatus,
    /// The authorization, when one was given.
    pub authorization: Option<AuthorizationRecord>,
}

/// Builds the decision packet. With `select`, the option must exist, be
/// admissible now, and be named by a production authorization; otherwise the
/// selection is refused (exit 5) and nothing is built.
pub fn build(
    options: &[OptionSpec],
    map: &BlockerMap,
    gates: &GateStatus,
    authorization: Option<&Authorization>,
    select: Option<&str>,
) -> Result<DecisionPacket> {
    let blockers = map.facts();
    let mut records = vec![OptionRecord {
        id: HOLD.to_string(),
        title: "Keep production on hold".into(),
        description: "Change nothing in production. The default, always admissible.".into(),
        requires_closed: vec![],
        requires_gates: vec![],
        admissible: true,
        unmet: vec![],
    }];
    for o in options {
        let why = unmet(&o.fact(), &blockers, gates);
        records.push(OptionRecord {
            id: o.id.clone(),
            title: o.title.clone(),
            description: o.description.clone(),
            requires_closed: o.requires_closed.clone(),
            requires_gates: o.requires_gates.clone(),
            admissible: why.is_empty(),
            unmet: why,
        });
    }
    let admissible: Vec<String> = records
        .iter()
        .filter(|r| r.admissible)
        .map(|r| r.id.clone())
        .collect();
    let selected = match select {
        None => "none".to_string(),
        Some(id) => {
            let auth = authorization.ok_or_else(|| {
                Error::Usage(format!(
                    "selecting {id} needs an authorization file that names it (--authorization)"
                ))
            })?;
            if auth.scope == Scope::Scoping {
                return Err(Error::refused(format!(
                    "a scoping authorization cannot select a decision option ({id}); the decision stays {HOLD}"
                )));
            }
            let Some(rec) = records.iter().find(|r| r.id == id) else {
                return Err(Error::refused(format!("{id} is not a decision option")));
            };
            if !auth.allows_selecting(id) {
                return Err(Error::refused(format!(
                    "the authorization does not name {id} in its select list"
                )));
            }
            if !rec.admissible {
                return Err(Error::refused(format!(
                    "{id} is not admissible now: {}",
                    rec.unmet.join("; ")
                )));
            }
            id.to_string()
        }
    };
    Ok(DecisionPacket {
        default: HOLD.to_string(),
        options: records,
        admissible_now: admissible,
        selected,
        open_blockers: open_blockers(&blockers),
        gates: gates.clone(),
        authorization: authorization.map(|a| AuthorizationRecord {
            scope: a.scope,
            text: a.text.clone(),
            select: a.select.clone(),
        }),
    })
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `next-production-decision-packet.md`: the same content for people.
pub fn render_markdown(p: &DecisionPacket) -> String {
    let mut out = String::new();
    out.push_str("# Next production decision\n\n");
    out.push_str(&format!("Default: `{}`\n\n", p.default));
    out.push_str(&format!("Selected: {}\n\n", p.selected));
    out.push_str(&format!(
        "Admissible now: {}\n\n",
        p.admissible_now
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    match &p.authorization {
        Some(a) => out.push_str(&format!(
            "Authorization ({}): {}\n\n",
            match a.scope {
                Scope::Scoping => "scoping",
                Scope::Production => "production",
            },
            cell(&a.text)
        )),
        None => out.push_str("Authorization: none given\n\n"),
    }
    out.push_str(&format!("Open blockers: {}\n\n", p.open_blockers.len()));
    for b in &p.open_blockers {
        out.push_str(&format!("- `{}`\n", b));
    }
    if !p.open_blockers.is_empty() {
        out.push('\n');
    }
    out.push_str("## Gates\n\n| gate | state | detail |\n|---|---|---|\n");
    for g in GateName::ALL {
        let c = p.gates.get(g);
        let state = match c.state {
            GateState::Met => "met",
            GateState::Unmet => "unmet",
            GateState::Unknown => "unknown",
        };
        out.push_str(&format!(
            "| {} | {state} | {} |\n",
            g.as_str(),
            cell(&c.detail)
        ));
    }
    out.push_str("\n## Options\n\n| option | admissible now | requires closed | requires gates | why not |\n|---|---|---|---|---|\n");
    for o in &p.options {
        out.push_str(&format!(
            "| `{}` {} | {} | {} | {} | {} |\n",
            o.id,
            cell(&o.title),
            if o.admissible { "yes" } else { "no" },
            if o.requires_closed.is_empty() {
                "-".to_string()
            } else {
                o.requires_closed.join(", ")
            },
            if o.requires_gates.is_empty() {
                "-".to_string()
            } else {
                o.requires_gates
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if o.unmet.is_empty() {
                "-".to_string()
            } else {
                cell(&o.unmet.join("; "))
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::blocker::{self, BlockerSpec, Status};
    use crate::gate::citation::Citation;
    use crate::model::level::Level;

    fn spec_blocker(id: &str, status: Status, closing: bool) -> BlockerSpec {
        BlockerSpec {
            id: id.into(),
            title: "t".into(),
            surface: "s".into(),
            severity: Level::High,
            status,
            evidence: vec![],
            closes_when: "c".into(),
            closing_evidence: if closing {
                vec![Citation {
                    path: "e.txt".into(),
                    lines: None,
                    sha256: Some("0".repeat(64)),
                }]
            } else {
                vec![]
            },
        }
    }

    fn option(id: &str, requires: &[&str]) -> OptionSpec {
        OptionSpec {
            id: id.into(),
            title: "go".into(),
            description: String::new(),
            requires_closed: requires.iter().map(|s| s.to_string()).collect(),
            requires_gates: vec![],
        }
    }

    fn auth(scope: Scope, select: &[&str]) -> Authorization {
        Authorization {
            text: "t".into(),
            scope,
            mutations: vec![],
            select: select.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn gates() -> GateStatus {
        GateStatus::from_facts(None, None, None)
    }

    #[test]
    fn scoping_run_with_open_blockers_only_admits_hold_and_selects_none() {
        let map = blocker::build(
            &[spec_blocker("B1", Status::Open, false)],
            &[],
            &Default::default(),
        );
        let p = build(
            &[option("PROCEED", &[])],
            &map,
            &gates(),
            Some(&auth(Scope::Scoping, &[])),
            None,
        )
        .unwrap();
        assert_eq!(p.default, HOLD);
        assert_eq!(p.admissible_now, vec![HOLD.to_string()]);
        assert_eq!(p.selected, "none");
        assert_eq!(p.open_blockers, vec!["B1".to_string()]);
        let md = render_markdown(&p);
        assert!(md.contains("Selected: none"), "{md}");
    }

    #[test]
    fn selection_rules_fail_closed() {
        let fresh: blocker::ClosingChecks = [(
            "B1".to_string(),
            vec![crate::gate::citation::CitationState::Fresh],
        )]
        .into();
        let closed = blocker::build(&[spec_blocker("B1", Status::Closed, true)], &[], &fresh);
        let opts = [option("PROCEED", &["B1"])];
        let ok = build(
            &opts,
            &closed,
            &gates(),
            Some(&auth(Scope::Production, &["PROCEED"])),
            Some("PROCEED"),
        )
        .unwrap();
        assert_eq!(ok.selected, "PROCEED");

        let e = build(
            &opts,
            &closed,
            &gates(),
            Some(&auth(Scope::Scoping, &[])),
            Some("PROCEED"),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(
            e.to_string()
                .contains("scoping authorization cannot select"),
            "{e}"
        );
        let e = build(
            &opts,
            &closed,
            &gates(),
            Some(&auth(Scope::Production, &["OTHER"])),
            Some("PROCEED"),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 5);
        let e = build(&opts, &closed, &gates(), None, Some("PROCEED")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = build(
            &opts,
            &closed,
            &gates(),
            Some(&auth(Scope::Production, &["GHOST"])),
            Some("GHOST"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a decision option"), "{e}");

        // Closing evidence that was not checked establishes nothing.
        let unchecked = blocker::build(
            &[spec_blocker("B1", Status::Closed, true)],
            &[],
            &Default::default(),
        );
        let e = build(
            &opts,
            &unchecked,
            &gates(),
            Some(&auth(Scope::Production, &["PROCEED"])),
            Some("PROCEED"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("required blocker B1 is open"), "{e}");

        // A map edited by hand to say closed is not believed.
        let mut forged = unchecked.clone();
        forged.blockers[0].status = Status::Closed;
        forged.counts.open = 0;
        let p = build(&opts, &forged, &gates(), None, None).unwrap();
        assert_eq!(p.open_blockers, vec!["B1".to_string()]);
        assert_eq!(p.admissible_now, vec![HOLD.to_string()]);

        // Closed without closing evidence counts as open: not admissible.
        let unproven = blocker::build(
            &[spec_blocker("B1", Status::Closed, false)],
            &[],
            &Default::default(),
        );
        let e = build(
            &opts,
            &unproven,
            &gates(),
            Some(&auth(Scope::Production, &["PROCEED"])),
            Some("PROCEED"),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("not admissible"), "{e}");
    }

    #[test]
    fn unknown_required_blockers_and_unmet_gates_are_named() {
        let o = OptionFact {
            id: "GO".into(),
            requires_closed: vec!["NOPE".into()],
            requires_gates: vec![GateName::RollbackPlan],
        };
        let why = unmet(&o, &[], &gates());
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(
            why[0].contains("NOPE") && why[1].contains("rollback-plan"),
            "{why:?}"
        );
    }

    #[test]
    fn option_ids_are_checked() {
        assert!(check_option_id("PROCEED_TO_REHEARSAL").is_ok());
        for bad in ["", "proceed", HOLD, "NONE", "A-B", "_A", "A__B"] {
            assert!(check_option_id(bad).is_err(), "{bad}");
        }
    }
}
