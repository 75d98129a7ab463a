//! Property tests of the one verdict: random evidence, single bad-input
//! mutations. A mutation here is anything a bad input can do to a fact
//! (take it away, make it worse, or forge a value into it); none of them may
//! turn a verdict into the pass token, and no output but the decision ever
//! carries the token.

use holdfast::authz::{Authorization, Scope};
use holdfast::gate::facts::{
    BlockerFact, GateName, OptionFact, Outcome, ProbeFact, ProofFact, ProofFacts,
};
use holdfast::gate::verdict::{Evidence, HOLD, pass_token, verdict};
use holdfast::model::proof::ProofStatus;
use proptest::prelude::*;

const CUSTOM_TOKENS: [&str; 2] = ["GO_LIVE_APPROVED", "SHIP_IT_NOW_OK"];

fn prefix() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{0,5}(_[A-Z0-9]{1,5}){0,3}".prop_filter("a usable prefix", |p| {
        holdfast::gate::verdict::check_status_prefix(p, pass_token(None)).is_ok()
            && CUSTOM_TOKENS.iter().all(|t| !p.contains(t))
    })
}

fn good_probe() -> impl Strategy<Value = ProbeFact> {
    ("[a-z]{1,8}/[a-z]{1,8}", any::<bool>()).prop_map(|(id, timeout)| ProbeFact {
        id,
        outcome: if timeout {
            Outcome::Timeout
        } else {
            Outcome::FailClosed
        },
        token_leaked: false,
        timeout_counts_as_fail_closed: true,
    })
}

fn good_proof() -> impl Strategy<Value = ProofFact> {
    (
        "[a-z]{1,6}",
        "[a-z]{1,6}",
        prop_oneof![
            Just(ProofStatus::Untouched),
            Just(ProofStatus::AuthorizedMutationMatched),
            Just(ProofStatus::DeclaredNotContacted),
            Just(ProofStatus::AuthorizedChangeMatched),
        ],
    )
        .prop_map(|(boundary, surface, result)| ProofFact {
            boundary,
            surface,
            result,
        })
}

/// Random evidence that earns the pass token.
fn passing() -> impl Strategy<Value = Evidence> {
    (
        prefix(),
        prop_oneof![Just(None), Just(Some(0usize)), Just(Some(1usize))],
        prop::collection::vec(good_probe(), 1..5),
        prop::collection::vec(good_proof(), 1..4),
        prop::collection::btree_set("BLK-[0-9]{1,3}", 0..4),
        prop::collection::btree_set("OPT_[A-Z]{1,4}", 1..4),
        any::<prop::sample::Index>(),
        prop::collection::vec(prop::sample::select(GateName::ALL.to_vec()), 0..3),
    )
        .prop_map(
            |(prefix, token, mut probes, proof, blockers, options, pick, gates)| {
                // Probe ids must be unique for the evidence to be well-formed.
                probes.sort_by(|a, b| a.id.cmp(&b.id));
                probes.dedup_by(|a, b| a.id == b.id);
                let blockers: Vec<BlockerFact> = blockers
                    .into_iter()
                    .map(|id| BlockerFact { id, open: false })
                    .collect();
                let mut gates = gates;
                gates.sort();
                gates.dedup();
                let options: Vec<OptionFact> = options
                    .into_iter()
                    .map(|id| OptionFact {
                        id,
                        requires_closed: blockers.iter().map(|b| b.id.clone()).collect(),
                        requires_gates: gates.clone(),
                    })
                    .collect();
                let selected = options[pick.index(options.len())].id.clone();
                Evidence {
                    status_prefix: prefix,
                    pass_token: token.map(|i| CUSTOM_TOKENS[i].to_string()),
                    missing_artifacts: vec![],
                    sealed: true,
                    verified: true,
                    probes: Some(probes),
                    proof: Some(ProofFacts {
                        entries: proof,
                        boundary_errors: vec![],
                    }),
                    rollback_plan_problems: Some(vec![]),
                    blockers,
                    options,
                    authorization: Authorization {
                        text: "production".into(),
                        scope: Scope::Production,
                        mutations: vec![],
                        select: vec![selected.clone()],
                    },
                    selected: Some(selected),
                    mutation_refused: None,
                    mutation_problems: vec![],
                    mutation_failed: None,
                }
            },
        )
}

/// One bad-input mutation of one fact.
#[derive(Debug, Clone)]
enum Mutation {
    MissingArtifact(String),
    Unsealed,
    Unverified,
    ProbesNotRun,
    NoProbes,
    ProbeOutcome(prop::sample::Index, Outcome),
    ProbeLeaked(prop::sample::Index),
    ExtraBadProbe(Outcome),
    NoProof,
    EmptyProof,
    ProofResult(prop::sample::Index, bool),
    BoundaryError(String),
    NoPlan,
    PlanProblem(String),
    ReopenBlocker(prop::sample::Index),
    NewOpenBlocker(String),
    NothingSelected,
    HoldSelected,
    SelectUnknown(String),
    SelectToken,
    ScopingAuthorization,
    AuthorizationWithoutSelect,
    RemoveSelectedOption,
    RequireUnknownBlocker(String),
    RenameSelectedOption(String),
    ForgedPrefix(u8),
    BadToken(prop::sample::Index),
    RefusedRequest(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use Mutation::*;
    let bad_outcome = prop_oneof![
        Just(Outcome::FailOpen),
        Just(Outcome::Crashed),
        Just(Outcome::NotRun),
        Just(Outcome::Unexpected),
    ];
    prop_oneof![
        "[a-z.]{1,12}".prop_map(MissingArtifact),
        Just(Unsealed),
        Just(Unverified),
        Just(ProbesNotRun),
        Just(NoProbes),
        (any::<prop::sample::Index>(), bad_outcome.clone()).prop_map(|(i, o)| ProbeOutcome(i, o)),
        any::<prop::sample::Index>().prop_map(ProbeLeaked),
        bad_outcome.prop_map(ExtraBadProbe),
        Just(NoProof),
        Just(EmptyProof),
        (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(i, b)| ProofResult(i, b)),
        "[a-z ]{1,12}".prop_map(BoundaryError),
        Just(NoPlan),
        "[a-z ]{1,12}".prop_map(PlanProblem),
        any::<prop::sample::Index>().prop_map(ReopenBlocker),
        "NEW-[0-9]{1,3}".prop_map(NewOpenBlocker),
        Just(NothingSelected),
        Just(HoldSelected),
        "GHOST_[A-Z]{1,4}".prop_map(SelectUnknown),
        Just(SelectToken),
        Just(ScopingAuthorization),
        Just(AuthorizationWithoutSelect),
        Just(RemoveSelectedOption),
        "MISSING-[0-9]{1,3}".prop_map(RequireUnknownBlocker),
        "(_READY|_X)".prop_map(RenameSelectedOption),
        (0u8..5).prop_map(ForgedPrefix),
        any::<prop::sample::Index>().prop_map(BadToken),
        "[a-z ]{1,12}".prop_map(RefusedRequest),
    ]
}

fn apply(e: &mut Evidence, m: &Mutation) {
    use Mutation::*;
    let token = pass_token(e.pass_token.as_deref()).to_string();
    match m {
        MissingArtifact(n) => e.missing_artifacts.push(n.clone()),
        Unsealed => e.sealed = false,
        Unverified => e.verified = false,
        ProbesNotRun => e.probes = None,
        NoProbes => e.probes = Some(vec![]),
        ProbeOutcome(i, o) => {
            if let Some(p) = e.probes.as_mut().filter(|p| !p.is_empty()) {
                let n = i.index(p.len());
                p[n].outcome = *o;
            } else {
                e.probes = None;
            }
        }
        ProbeLeaked(i) => {
            if let Some(p) = e.probes.as_mut().filter(|p| !p.is_empty()) {
                let n = i.index(p.len());
                p[n].token_leaked = true;
            } else {
                e.probes = None;
            }
        }
        ExtraBadProbe(o) => e.probes.get_or_insert_with(Vec::new).push(ProbeFact {
            id: "zz/extra".into(),
            outcome: *o,
            token_leaked: false,
            timeout_counts_as_fail_closed: false,
        }),
        NoProof => e.proof = None,
        EmptyProof => {
            if let Some(p) = e.proof.as_mut() {
                p.entries.clear();
            }
        }
        ProofResult(i, mismatch) => {
            if let Some(p) = e.proof.as_mut().filter(|p| !p.entries.is_empty()) {
                let n = i.index(p.entries.len());
                p.entries[n].result = if *mismatch {
                    ProofStatus::AuthorizedMutationMismatch
                } else {
                    ProofStatus::Changed
                };
            } else {
                e.proof = None;
            }
        }
        BoundaryError(b) => {
            if let Some(p) = e.proof.as_mut() {
                p.boundary_errors.push(b.clone());
            } else {
                e.proof = None;
            }
        }
        NoPlan => e.rollback_plan_problems = None,
        PlanProblem(p) => e
            .rollback_plan_problems
            .get_or_insert_with(Vec::new)
            .push(p.clone()),
        ReopenBlocker(i) => {
            if e.blockers.is_empty() {
                e.blockers.push(BlockerFact {
                    id: "OPEN-1".into(),
                    open: true,
                });
            } else {
                let n = i.index(e.blockers.len());
                e.blockers[n].open = true;
            }
        }
        NewOpenBlocker(id) => e.blockers.push(BlockerFact {
            id: id.clone(),
            open: true,
        }),
        NothingSelected => e.selected = None,
        HoldSelected => e.selected = Some(HOLD.to_string()),
        SelectUnknown(id) => e.selected = Some(id.clone()),
        SelectToken => e.selected = Some(token),
        ScopingAuthorization => e.authorization.scope = Scope::Scoping,
        AuthorizationWithoutSelect => e.authorization.select.clear(),
        RemoveSelectedOption => {
            let sel = e.selected.clone();
            e.options.retain(|o| Some(&o.id) != sel.as_ref());
        }
        RequireUnknownBlocker(id) => {
            let sel = e.selected.clone();
            for o in e.options.iter_mut().filter(|o| Some(&o.id) == sel.as_ref()) {
                o.requires_closed.push(id.clone());
            }
        }
        RenameSelectedOption(suffix) => {
            let sel = e.selected.clone();
            for o in e.options.iter_mut().filter(|o| Some(&o.id) == sel.as_ref()) {
                o.id.push_str(suffix);
            }
        }
        ForgedPrefix(k) => {
            e.status_prefix = match k {
                0 => format!("{}_{token}", e.status_prefix),
                1 => format!("{}_READY", e.status_prefix),
                2 => e.status_prefix.to_lowercase() + "x",
                3 => String::new(),
                _ => format!("{}_{HOLD}", e.status_prefix),
            }
        }
        BadToken(i) => {
            let bad = ["HOLD_PRODUCTION", "READY_TO_GO", "pass", "", "X_Y"];
            e.pass_token = Some(bad[i.index(bad.len())].to_string());
        }
        RefusedRequest(why) => e.mutation_refused = Some(why.clone()),
    }
}

fn no_token_outside_decision(e: &Evidence) {
    let v = verdict(e);
    let token = pass_token(e.pass_token.as_deref());
    let mut json = serde_json::to_value(&v).unwrap();
    json["decision"] = serde_json::Value::Null;
    let text = json.to_string();
    assert!(
        holdfast::gate::verdict::check_pass_token(token).is_err() || !text.contains(token),
        "the token leaked into the verdict's other fields: {text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_complete_evidence_passes(e in passing()) {
        let v = verdict(&e);
        prop_assert!(v.pass, "{:?}", v);
        prop_assert_eq!(&v.decision, pass_token(e.pass_token.as_deref()));
        no_token_outside_decision(&e);
    }

    #[test]
    fn any_single_mutation_of_passing_evidence_holds(e in passing(), m in mutation()) {
        let mut bad = e.clone();
        apply(&mut bad, &m);
        let v = verdict(&bad);
        prop_assert!(!v.pass, "{:?} still passed: {:?}", m, v);
        prop_assert_eq!(&v.decision, HOLD);
        prop_assert!(!v.hold_reasons.is_empty());
        no_token_outside_decision(&bad);
    }

    #[test]
    fn a_non_pass_verdict_never_becomes_the_token(
        e in passing(),
        first in prop::collection::vec(mutation(), 1..4),
        m in mutation(),
    ) {
        let mut bad = e;
        for f in &first {
            apply(&mut bad, f);
        }
        prop_assume!(!verdict(&bad).pass);
        apply(&mut bad, &m);
        let v = verdict(&bad);
        prop_assert!(!v.pass, "{:?} after {:?} passed: {:?}", m, first, v);
        prop_assert_eq!(&v.decision, HOLD);
        prop_assert_ne!(&v.decision, pass_token(None));
        for t in CUSTOM_TOKENS {
            prop_assert_ne!(&v.decision, t);
        }
        no_token_outside_decision(&bad);
    }
}
