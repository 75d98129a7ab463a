//! Gates: the one verdict, the bad-input probe harness, blockers, the
//! production decision packet and the rollback plan.
//!
//! - [`verdict`] computes the packet's scoping status and production decision
//!   from plain facts ([`verdict::Evidence`]); it is the only code that spells
//!   the pass token.
//! - [`probe`] attacks holdfast's own gates (and the user's) with bad inputs
//!   through the real binary and records whether each one failed closed.
//! - [`blocker`] turns declared blockers and derived facts into the blocker map.
//! - [`decision`] lists the production options, which are admissible now, and
//!   refuses a selection the authorization does not cover.
//! - [`plan`] checks the rollback / rehearsal plan and writes its template.
//!
//! The gate spec is `gates.toml` (see [`spec`]). Facts shared by several of
//! these live in [`facts`]; [`assemble`] puts the blocker map and the
//! decision packet together for `holdfast gates`.

pub mod assemble;
pub mod blocker;
pub mod citation;
pub mod decision;
pub mod facts;
pub mod plan;
pub mod probe;
pub mod spec;
pub mod user_control;
pub mod verdict;

/// File name of the gate spec inside a spec directory.
pub const SPEC_FILE: &str = "gates.toml";
/// File name of the probe harness report in a packet.
pub const PROBE_REPORT_FILE: &str = "production-bad-input-design.json";
/// File name of the blocker map (JSON) in a packet.
pub const BLOCKER_MAP_FILE: &str = "production-blocker-map.json";
/// File name of the blocker map (Markdown) in a packet.
pub const BLOCKER_MAP_MD_FILE: &str = "production-blocker-map.md";
/// File name of the decision packet (JSON) in a packet.
pub const DECISION_FILE: &str = "next-production-decision-packet.json";
/// File name of the decision packet (Markdown) in a packet.
pub const DECISION_MD_FILE: &str = "next-production-decision-packet.md";
/// File name of the rollback / rehearsal plan in a spec and in a packet.
pub const PLAN_FILE: &str = "production-rollback-rehearsal-plan.md";

/// Writes a starting spec into `dir`: an example gates.toml and the rollback
/// plan template pre-filled from `inputs`. Refuses (nothing written) when
/// either file already exists.
pub fn init(
    dir: &std::path::Path,
    inputs: &plan::PlanInputs,
) -> crate::Result<Vec<std::path::PathBuf>> {
    use crate::error::IoContext;
    let files = [
        (dir.join(SPEC_FILE), spec::example()),
        (dir.join(PLAN_FILE), plan::template(inputs)),
    ];
    for (p, _) in &files {
        if p.symlink_metadata().is_ok() {
            return Err(crate::Error::refused(format!(
                "{} already exists; init never overwrites",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).at(dir)?;
    let mut written = Vec::new();
    for (p, text) in files {
        crate::fsio::write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}
