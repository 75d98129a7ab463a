//! The bad-input probe harness (`holdfast probe SPEC`).
//!
//! Two kinds of probes:
//! - built-in classes attack holdfast's own gates: the harness builds a good
//!   packet and a good spec in a temporary directory, checks that the real
//!   binary accepts them (the controls: a refusal of input the gate would
//!   refuse anyway proves nothing), then runs the binary on bad copies;
//! - user probes run the user's own gate commands on the user's bad inputs.
//!
//! A probe fails closed when the gate exits non-zero (with an expected code)
//! and the pass token appears in neither stdout nor stderr. Timeouts, signals,
//! unexpected codes and gates that are not in this build are reported as
//! such, never as passed. The harness passes only when every probe failed
//! closed, every control passed, and nothing leaked.

mod builtin;
mod case;
pub(crate) mod exec;
mod fixture;
mod harness;
pub mod load;
mod report;
mod rerun;
pub mod spec;
mod user;
pub mod user_control;

use std::time::Duration;

pub use builtin::{ClassInfo, class_table};
pub use exec::{Captured, Ran, Spawn, run as run_command};
pub use harness::{HarnessOptions, configured_classes, run, select_classes, select_configured};
pub use report::{
    Actual, ClassRecord, ControlRecord, Expected, ProbeKind, ProbeRecord, ProbeReport, Summary,
};
pub use rerun::{RerunOptions, RerunReport, rerun};

/// The class id of user probes.
pub const USER_CLASS: &str = "user";
/// Time limit of each built-in probe (they finish in milliseconds; this only
/// catches a hang).
pub const BUILTIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest probe report `holdfast gates --probe-report` reads.
pub const REPORT_LIMIT: u64 = 64 * 1024 * 1024;
