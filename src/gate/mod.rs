//! Gates: the one verdict, blockers, the production decision packet and the
//! rollback plan.
//!
//! - [`verdict`] computes the packet's scoping status and production decision
//!   from plain facts ([`verdict::Evidence`]); it is the only code that spells
//!   the pass token.
//! - [`blocker`] turns declared blockers and derived facts into the blocker map.
//! - [`decision`] lists the production options, which are admissible now, and
//!   refuses a selection the authorization does not cover.
//! - [`plan`] checks the rollback / rehearsal plan and writes its template.
//!
//! The bad-input probe harness and the gate spec (`gates.toml`) live one
//! layer up, in `crate::probe`, which uses this module; `gate` takes from a
//! probe report only the facts it needs ([`assemble::ProbeFindings`]). Facts
//! shared by several of these live in [`facts`]; [`assemble`] puts the
//! blocker map and the decision packet together for `holdfast gates`.

pub mod assemble;
pub mod blocker;
pub mod citation;
pub mod decision;
pub mod facts;
pub mod facts_file;
pub mod plan;
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
