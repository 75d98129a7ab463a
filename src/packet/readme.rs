//! `README.md` of a packet, rendered from the packet's own JSON and never
//! typed by hand. `verify --rerun` renders it again from the JSON it holds
//! and compares the bytes, so every figure in the README is one the JSON
//! states.

use std::fmt::Write as _;
use std::path::Path;

use super::evidence::read_json;
use super::manifest::{COMMANDS_FILE, EXIT_CODES_FILE, MANIFEST_FILE, PacketManifest, RERUN_FILE};
use crate::error::Result;
use crate::gate::blocker::BlockerMap;
use crate::gate::decision::DecisionPacket;
use crate::gate::verdict::pass_token;
use crate::gate::{
    BLOCKER_MAP_FILE, DECISION_FILE, DECISION_MD_FILE, PLAN_FILE, PROBE_REPORT_FILE,
};
use crate::model::proof::{ProofResult, ProofStatus};
use crate::probe::ProbeReport;
use crate::registry::FoldResult;
use crate::seal::{MANIFEST_NAME, TREE_NAME};
use crate::surface::inventory::{SurfaceInventory, json_file_name};
use crate::surface::proof::{BoundaryVerdict, PROOF_FILE, Proof, SurfaceVerdict};
use crate::surface::spec::{Status, Table};

/// A one-line title for an artifact, by its path and the names the spec
/// gives its tables (see [`super::layout::title`]).
pub fn artifact_title(path: &str, labels: &crate::surface::spec::TableLabels) -> String {
    super::layout::title(path, labels)
}

/// Renders the README of the packet in `dir` from its JSON files.
pub fn render(dir: &Path) -> Result<Vec<u8>> {
    let m = PacketManifest::load(dir)?;
    let token = pass_token(m.pass_token.as_deref());
    let mut s = String::new();
    let p = &m.packet;
    let _ = writeln!(s, "# {} ({})\n", p.title, p.date);
    let _ = writeln!(s, "- {}: `{}`", p.labels.name(), p.macro_name);
    let _ = writeln!(s, "- Authorization: {}", m.authorization.text);
    let _ = writeln!(
        s,
        "- Final status: **{}** — {}",
        m.status.scoping_status,
        if m.status.failures.is_empty() && m.status.missing.is_empty() {
            "this packet is complete, sealed and verified, and every check it ran held; it is not a production approval"
        } else {
            "this packet is not complete or a check it ran failed (see below)"
        }
    );
    let _ = writeln!(
        s,
        "- Production decision: **{}** (selected: {}) — {}",
        m.status.decision,
        m.status.selected,
        if m.status.selected == "none" {
            "production stays on hold until an authorized option's preconditions are met and it is selected"
        } else {
            "the option selected under the authorization"
        }
    );
    let f = &m.flags;
    let _ = writeln!(
        s,
        "- Production mutation: {} · {}: {} · Live-system contact: {}",
        yes_no(f.production_mutation),
        p.labels.cutover(),
        yes_no(f.real_run_cutover),
        match f.live_system_contact {
            super::spec::LiveContact::None => "NONE",
            super::spec::LiveContact::ReadOnly => "READ-ONLY",
            super::spec::LiveContact::ReadWrite => "READ-WRITE (a governed change)",
        }
    );
    if !m.status.failures.is_empty() || !m.status.missing.is_empty() {
        let _ = writeln!(s, "\n## Why this packet is not READY\n");
        for why in m.status.failures.iter().chain(&m.status.missing) {
            let _ = writeln!(s, "- {why}");
        }
    }

    let _ = writeln!(s, "\n## What this packet proves\n");
    fold_bullet(&mut s, dir, &m)?;
    for table in Table::ALL {
        inventory_bullet(&mut s, dir, table)?;
    }
    plan_bullet(&mut s, dir)?;
    probe_bullet(&mut s, dir, token)?;
    blocker_bullet(&mut s, dir)?;
    proof_bullet(&mut s, dir, &m)?;
    decision_bullet(&mut s, dir)?;

    let _ = writeln!(s, "\n## Integrity / rerun\n");
    let _ = writeln!(
        s,
        "- `{COMMANDS_FILE}` — recompute every hash and re-run every check (exit 0 expected)."
    );
    let _ = writeln!(
        s,
        "- `{RERUN_FILE}` — re-run the production bad-input probe harness (exit 0 expected)."
    );
    let _ = writeln!(
        s,
        "- `spec/` — the run's inputs, byte for byte; `holdfast verify . --rerun` derives every other file again from them and the primary evidence and compares the bytes."
    );
    let codes: serde_json::Value = read_json(dir, EXIT_CODES_FILE)?;
    let steps = codes["commands"].as_array().map_or(0, Vec::len);
    let all = codes["all_as_expected"].as_bool() == Some(true);
    let _ = writeln!(
        s,
        "- `{EXIT_CODES_FILE}` — {steps} recorded steps, {}.",
        if all {
            "all with their expected exit code"
        } else {
            "NOT all with their expected exit code"
        }
    );
    let _ = writeln!(
        s,
        "- `{MANIFEST_NAME}` — sha256 of every packet file (`sha256sum -c {MANIFEST_NAME}`)."
    );
    let _ = writeln!(
        s,
        "- `{TREE_NAME}` — the single tree hash over the sorted manifest (`sha256sum -c {TREE_NAME}`)."
    );
    match &m.object_ids {
        Some(ids) => {
            let _ = writeln!(
                s,
                "- `{MANIFEST_FILE}` — object-id map ({}..{}, {} ids, claimed as {} in {}) + boundaries.",
                ids.first, ids.last, ids.count, ids.packet, m.registry
            );
        }
        None => {
            let _ = writeln!(
                s,
                "- `{MANIFEST_FILE}` — boundaries; no registry ids were claimed (only a READY packet claims ids)."
            );
        }
    }

    let _ = writeln!(s, "\n## Boundaries\n");
    let proof: Option<Proof> = dir
        .join(PROOF_FILE)
        .is_file()
        .then(|| read_json(dir, PROOF_FILE))
        .transpose()?;
    for b in &m.boundaries {
        let verdict = proof
            .as_ref()
            .and_then(|p| p.boundaries.iter().find(|x| x.id == b.id));
        let held = verdict
            .map(|x| if x.holds { "held" } else { "NOT held" })
            .unwrap_or("not proven");
        // What the boundary's surfaces were found to be, summed to its
        // surface count, so the lines add up to the per-surface totals.
        let tally = verdict
            .map(|x| {
                let statuses: Vec<ProofStatus> = x.surfaces.iter().map(|c| c.status).collect();
                format!(
                    "{} = {} surface{}; ",
                    status_sum(&statuses),
                    statuses.len(),
                    plural(statuses.len())
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "- {} — {held}; {tally}covers {}.",
            b.title,
            b.surfaces.join(", ")
        );
    }
    if let Some(p) = &proof {
        let _ = writeln!(s, "\n{}", per_surface_line(&p.surfaces, &p.boundaries));
    }
    match (&m.mutation.requested, m.mutation.performed) {
        (Some(req), true) => {
            let _ = writeln!(
                s,
                "\nThe only {} is the authorized {req}.",
                p.labels.mutation()
            );
        }
        _ => {
            let _ = writeln!(s, "\nNo {} was performed.", p.labels.mutation());
        }
    }
    Ok(s.into_bytes())
}

/// The statuses in the order the README sums them: those that hold first.
const STATUS_ORDER: [ProofStatus; 7] = [
    ProofStatus::Untouched,
    ProofStatus::DeclaredNotContacted,
    ProofStatus::AuthorizedMutationMatched,
    ProofStatus::AuthorizedChangeMatched,
    ProofStatus::Changed,
    ProofStatus::AuthorizedMutationMismatch,
    ProofStatus::AuthorizedChangeOutsideScope,
];

/// `statuses` counted and written as a sum, e.g. "12 UNTOUCHED + 2
/// DECLARED_NOT_CONTACTED": the statuses that occur, in [`STATUS_ORDER`];
/// "0" when there are none. Its terms add up to `statuses.len()`.
fn status_sum(statuses: &[ProofStatus]) -> String {
    let terms: Vec<String> = STATUS_ORDER
        .iter()
        .map(|st| (st, statuses.iter().filter(|x| *x == st).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(st, n)| format!("{n} {}", st.as_str()))
        .collect();
    if terms.is_empty() {
        "0".to_string()
    } else {
        terms.join(" + ")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The per-surface view of the boundaries: every surface of the proof by
/// how many boundaries cover it (the ones in more than one and in none by
/// name), and what the boundary lines therefore add up to. A surface in two
/// boundaries is on two lines; one in none is on no line; so the boundary
/// lines' entries are the sum of surfaces × boundaries, and their statuses
/// sum to that. A pure function of the proof's two lists.
fn per_surface_line(surfaces: &[SurfaceVerdict], boundaries: &[BoundaryVerdict]) -> String {
    use std::collections::BTreeMap;
    // Every surface, with the boundaries covering it, in boundary order.
    let mut covering: BTreeMap<&str, Vec<&str>> = surfaces
        .iter()
        .map(|v| (v.surface.as_str(), Vec::new()))
        .collect();
    let mut entries = Vec::new();
    for b in boundaries {
        for c in &b.surfaces {
            covering.entry(c.surface.as_str()).or_default().push(&b.id);
            entries.push(c.status);
        }
    }
    // Surfaces by the number of boundaries that cover them.
    let mut by_count: BTreeMap<usize, Vec<(&str, &[&str])>> = BTreeMap::new();
    for (surface, bs) in &covering {
        by_count.entry(bs.len()).or_default().push((surface, bs));
    }
    let mut groups = Vec::new();
    let mut products = Vec::new();
    for (k, list) in by_count.iter().filter(|(k, _)| **k > 0) {
        if *k == 1 {
            groups.push(format!("{} in one boundary", list.len()));
        } else {
            let named: Vec<String> = list
                .iter()
                .map(|(sf, bs)| format!("`{sf}`: {}", bs.join(", ")))
                .collect();
            groups.push(format!(
                "{} in {k} boundaries ({})",
                list.len(),
                named.join("; ")
            ));
        }
        products.push(format!("{}×{k}", list.len()));
    }
    let none = by_count.get(&0).map(Vec::as_slice).unwrap_or(&[]);
    groups.push(if none.is_empty() {
        "0 in no boundary".to_string()
    } else {
        let named: Vec<String> = none.iter().map(|(sf, _)| format!("`{sf}`")).collect();
        format!(
            "{} in no boundary ({}: not a forbidden surface)",
            none.len(),
            named.join(", ")
        )
    });
    if products.is_empty() {
        products.push("0".to_string());
    }
    format!(
        "Per surface: {} surface{} = {}. The boundary lines above hold {} = {} surface entr{}: {}.",
        covering.len(),
        plural(covering.len()),
        groups.join(" + "),
        products.join(" + "),
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" },
        status_sum(&entries)
    )
}

fn yes_no(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

fn fold_bullet(s: &mut String, dir: &Path, m: &PacketManifest) -> Result<()> {
    let mu = &m.mutation;
    let Some(req) = &mu.requested else {
        let _ = writeln!(s, "- No mutation requested: the run only read.");
        return Ok(());
    };
    if let Some(line) = crate::change::readme_line(dir)? {
        let _ = writeln!(s, "- {line}");
        return Ok(());
    }
    let Some(file) = mu.fold_result.as_deref().filter(|_| mu.performed) else {
        let _ = writeln!(
            s,
            "- {req} — NOT APPLIED: {}.",
            mu.skipped_reason.as_deref().unwrap_or("no reason recorded")
        );
        return Ok(());
    };
    let r: FoldResult = read_json(dir, file)?;
    let c = &r.invariants.after;
    let rev = &r.revisions_after;
    let _ = writeln!(
        s,
        "- Governance fold {}..{} — {} (`{file}`). Canonical body max {}→{}, next free {}; \
         {} collision / {} orphan / {} gap / {} overlap; JSON {}; objects[] {}; before/after pins \
         recorded ({} documents); reverse-patch rollback {} (`{}`). Revisions after: \
         registry.json rev {}, registry.md rev {}, index.md rev {}, objects.json rev {}, objects.md rev {}.",
        r.range.first_id,
        r.range.last_id,
        if r.applied { "APPLIED" } else { "NOT APPLIED" },
        r.canonical_max.before,
        r.canonical_max.after,
        r.next_free.id,
        c.collision,
        c.orphan,
        c.gap,
        c.overlap,
        if r.json_valid { "valid" } else { "INVALID" },
        if r.objects_unchanged {
            "unchanged"
        } else {
            "CHANGED"
        },
        r.pins.after.len(),
        if r.rollback_rehearsal.byte_exact {
            "proven byte-exact in staging"
        } else {
            "NOT proven byte-exact"
        },
        r.reverse_patch.file,
        rev.registry_json,
        rev.registry_md,
        rev.index_md,
        rev.objects_json,
        rev.objects_md,
    );
    Ok(())
}

fn inventory_bullet(s: &mut String, dir: &Path, table: Table) -> Result<()> {
    let file = json_file_name(table);
    let inv: SurfaceInventory = read_json(dir, file)?;
    let label = match table {
        Table::Production => "Production surface inventory",
        Table::CiDeploy => "CI/deploy surface inventory",
    };
    let named = inv
        .label
        .as_deref()
        .map(|l| format!(", {l}"))
        .unwrap_or_default();
    let citations: usize = inv.surfaces.iter().map(|e| e.evidence.len()).sum();
    let unknown: Vec<&str> = inv
        .surfaces
        .iter()
        .filter(|e| e.status == Status::Unknown)
        .map(|e| e.name.as_str())
        .collect();
    let unknown_text = if unknown.is_empty() {
        "0 UNKNOWN".to_string()
    } else {
        format!(
            "{} UNKNOWN: {} (listed as a blocker, not invented)",
            unknown.len(),
            unknown.join("; ")
        )
    };
    let _ = writeln!(
        s,
        "- {label} (`{file}`{named}) — {} surfaces ({} known, {unknown_text}); \
         {citations} evidence citations, each with the sha256 of the cited bytes; mutation risk \
         and required gate per known surface.",
        inv.counts.surfaces, inv.counts.known
    );
    Ok(())
}

fn plan_bullet(s: &mut String, dir: &Path) -> Result<()> {
    let report = crate::gate::plan::check_file(&dir.join(PLAN_FILE))?;
    let present = report.sections.len() - report.problems.len().min(report.sections.len());
    let _ = writeln!(
        s,
        "- Production rollback/rehearsal plan (`{PLAN_FILE}`) — {}: {} of {} required sections \
         (before-state capture, mutation boundary, rollback trigger, rollback action, \
         verification, forbidden fail-open cases); a design, not run.",
        if report.complete {
            "complete"
        } else {
            "INCOMPLETE"
        },
        if report.complete {
            report.sections.len()
        } else {
            present
        },
        report.sections.len()
    );
    Ok(())
}

fn probe_bullet(s: &mut String, dir: &Path, token: &str) -> Result<()> {
    use crate::gate::facts::Outcome;
    use crate::probe::ProbeKind;
    let r = ProbeReport::load(&dir.join(PROBE_REPORT_FILE), token)?;
    // holdfast's self-attack classes, counted apart from the user's own
    // gate probes (listed by name below).
    let classes: Vec<_> = r
        .classes
        .iter()
        .filter(|c| c.kind == ProbeKind::Builtin)
        .collect();
    let probes: Vec<_> = r
        .probes
        .iter()
        .filter(|p| p.kind == ProbeKind::Builtin)
        .collect();
    let count = |o: Outcome| probes.iter().filter(|p| p.outcome == o).count();
    let leaked = probes.iter().filter(|p| p.fact().token_leaked).count();
    let _ = writeln!(
        s,
        "- Production bad-input design + harness (`{PROBE_REPORT_FILE}`, `{RERUN_FILE}`) — \
         {} classes, {} probes: {}/{} classes fail-closed, {}/{} probes fail-closed, {} fail-open, {} timeout, {} crashed, {} not run; \
         {token} leaked: {}. Local and static: the harness attacks copies in a temporary directory.",
        classes.len(),
        probes.len(),
        classes
            .iter()
            .filter(|c| c.result == Outcome::FailClosed)
            .count(),
        classes.len(),
        probes.iter().filter(|p| p.fail_closed).count(),
        probes.len(),
        count(Outcome::FailOpen),
        count(Outcome::Timeout),
        count(Outcome::Crashed),
        count(Outcome::NotRun),
        if leaked == 0 {
            "no".to_string()
        } else {
            format!("YES ({leaked})")
        }
    );
    user_probe_lines(s, &r);
    Ok(())
}

/// The user's own gate probes (`[[probe]]` of gates.toml), each by name
/// with its outcome and its positive control, apart from holdfast's
/// self-attack classes. Nothing when the spec declares none.
fn user_probe_lines(s: &mut String, r: &ProbeReport) {
    use crate::probe::ProbeKind;
    let user: Vec<_> = r
        .probes
        .iter()
        .filter(|p| p.kind == ProbeKind::User)
        .collect();
    if user.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "- Your own gate probes (`[[probe]]` of gates.toml) — {}/{} fail-closed; each runs your gate on a bad input it must refuse, and on its positive control (`accept_file`), a good input it must accept:",
        user.iter().filter(|p| p.fail_closed).count(),
        user.len()
    );
    for p in user {
        let control = match r.controls.iter().find(|c| c.id == p.id) {
            None => {
                "no positive control (a gate that refuses everything would pass this probe too)"
                    .to_string()
            }
            Some(c) if c.ok => "positive control accepted".to_string(),
            Some(c) => format!(
                "positive control FAILED, the gate is misconfigured: {}",
                c.detail
            ),
        };
        let name = p.id.strip_prefix("user/").unwrap_or(&p.id);
        let control_failed = r.controls.iter().any(|c| c.id == p.id && !c.ok);
        let reason = if p.fail_closed || control_failed {
            String::new()
        } else {
            format!(" ({})", p.reason)
        };
        let _ = writeln!(
            s,
            "  - `{name}` — {}{reason}; {control}.",
            p.outcome.label()
        );
    }
}

fn blocker_bullet(s: &mut String, dir: &Path) -> Result<()> {
    let map: BlockerMap = read_json(dir, BLOCKER_MAP_FILE)?;
    // Counted from each blocker's own facts, never from the stored totals.
    let c = &map.recount();
    let _ = writeln!(
        s,
        "- Production blocker map (`{BLOCKER_MAP_FILE}`) — {} OPEN production blockers \
         ({} declared, {} derived; {} closed, {} marked closed without closing evidence and counted open).",
        c.open, c.declared, c.derived, c.closed, c.closed_without_evidence
    );
    Ok(())
}

fn proof_bullet(s: &mut String, dir: &Path, m: &PacketManifest) -> Result<()> {
    let p: Proof = read_json(dir, PROOF_FILE)?;
    let c = &p.counts;
    let matched: Vec<String> = p
        .authorized_mutations
        .iter()
        .filter(|a| a.status == ProofStatus::AuthorizedMutationMatched)
        .map(|a| format!("{} {} on {}", a.kind, a.range, a.surface))
        .collect();
    let changes = c.authorized_change_matched + c.authorized_change_outside_scope;
    let authorized = match (&m.mutation.requested, matched.is_empty()) {
        _ if m.mutation.change.is_some() => format!(
            "change {}: {} surface(s) AUTHORIZED_CHANGE_MATCHED, {} AUTHORIZED_CHANGE_OUTSIDE_SCOPE",
            m.mutation.change.as_deref().unwrap_or_default(),
            c.authorized_change_matched,
            c.authorized_change_outside_scope
        ),
        _ if changes > 0 => "a change was matched although none was performed".to_string(),
        (_, false) => format!(
            "the only authorized mutation, {}, AUTHORIZED_MUTATION_MATCHED",
            matched.join(", ")
        ),
        (Some(_), true) if m.mutation.performed => {
            "the authorized mutation did NOT match its pins".to_string()
        }
        _ => "no mutation performed".to_string(),
    };
    // Each surface has exactly one status: the sum is the surface count,
    // split by the table each surface is in (with the spec's names for them).
    let statuses: Vec<ProofStatus> = p.surfaces.iter().map(|v| v.status).collect();
    let mut tables = Vec::new();
    for table in Table::ALL {
        let inv: SurfaceInventory = read_json(dir, json_file_name(table))?;
        let n = p.surfaces.iter().filter(|v| v.table == table).count();
        let name = inv.label.unwrap_or_else(|| {
            match table {
                Table::Production => "production",
                Table::CiDeploy => "CI/deploy",
            }
            .to_string()
        });
        tables.push(format!("{n} {name}"));
    }
    let _ = writeln!(
        s,
        "- Forbidden-surface proof (`{PROOF_FILE}`) — {}: {} boundaries over {} surfaces; {} UNTOUCHED by digest, \
         {} declared not contacted (weaker: no snapshot method), {} CHANGED; {authorized}. \
         Each surface has one status: {} = {} surfaces ({}); per boundary under Boundaries. \
         It covers the time from the snapshot before to the snapshot after (steps `snapshot-before` and \
         `snapshot-after` of `exit_codes.json`): not what happened before or after them, and not reads.",
        match p.result {
            ProofResult::Proven => "PROVEN",
            ProofResult::NotProven => "NOT PROVEN",
        },
        p.boundaries.len(),
        p.surfaces.len(),
        c.untouched,
        c.declared_not_contacted,
        c.changed + c.authorized_mutation_mismatch + c.authorized_change_outside_scope,
        status_sum(&statuses),
        statuses.len(),
        tables.join(" + "),
    );
    Ok(())
}

fn decision_bullet(s: &mut String, dir: &Path) -> Result<()> {
    let d: DecisionPacket = read_json(dir, DECISION_FILE)?;
    let options: Vec<&str> = d.options.iter().map(|o| o.id.as_str()).collect();
    let _ = writeln!(
        s,
        "- Next production decision packet (`{DECISION_MD_FILE}`) — options {}; default {}; \
         admissible now: {}; selected: {}.",
        options.join(", "),
        d.default,
        d.admissible_now.join(", "),
        d.selected
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::proof::BoundarySurface;
    use crate::surface::spec::Method;
    use ProofStatus::*;

    fn surface(id: &str, status: ProofStatus) -> SurfaceVerdict {
        SurfaceVerdict {
            surface: id.into(),
            table: Table::Production,
            risk: None,
            method: Method::Files,
            status,
            before: None,
            after: None,
            changed_parts: Vec::new(),
            detail: String::new(),
        }
    }

    fn boundary(id: &str, covers: &[(&str, ProofStatus)]) -> BoundaryVerdict {
        BoundaryVerdict {
            id: id.into(),
            title: id.into(),
            surfaces: covers
                .iter()
                .map(|(s, st)| BoundarySurface {
                    surface: (*s).into(),
                    status: *st,
                })
                .collect(),
            holds: true,
        }
    }

    #[test]
    fn a_status_sum_lists_what_occurs_in_a_fixed_order() {
        assert_eq!(status_sum(&[]), "0");
        assert_eq!(
            status_sum(&[Changed, Untouched, DeclaredNotContacted, Untouched]),
            "2 UNTOUCHED + 1 DECLARED_NOT_CONTACTED + 1 CHANGED"
        );
    }

    #[test]
    fn the_per_surface_line_counts_overlaps_and_uncovered_surfaces() {
        let surfaces = [
            surface("a", Untouched),
            surface("b", Changed),
            surface("c", Untouched),
        ];
        let boundaries = [
            boundary("x", &[("a", Untouched), ("b", Changed)]),
            boundary("y", &[("a", Untouched)]),
        ];
        assert_eq!(
            per_surface_line(&surfaces, &boundaries),
            "Per surface: 3 surfaces = 1 in one boundary + 1 in 2 boundaries (`a`: x, y) + \
             1 in no boundary (`c`: not a forbidden surface). The boundary lines above hold \
             1×1 + 1×2 = 3 surface entries: 2 UNTOUCHED + 1 CHANGED."
        );
    }

    #[test]
    fn the_per_surface_line_of_nothing_is_zero() {
        assert_eq!(
            per_surface_line(&[], &[]),
            "Per surface: 0 surfaces = 0 in no boundary. The boundary lines above hold 0 = 0 surface entries: 0."
        );
        // A boundary entry for a surface the proof does not list still counts.
        assert_eq!(
            per_surface_line(&[], &[boundary("x", &[("ghost", Changed)])]),
            "Per surface: 1 surface = 1 in one boundary + 0 in no boundary. The boundary lines above hold 1×1 = 1 surface entry: 1 CHANGED."
        );
    }
}
