//! [`Outcome`], how one bad-input probe ended: in the probe report, the
//! gate facts and the fail-open-probe fact alike.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How one probe ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Non-zero exit, the expected exit code, and no pass token in any output.
    FailClosed,
    /// Exit 0, or the pass token appeared in stdout or stderr.
    FailOpen,
    /// Still running when its time ran out; it was killed.
    Timeout,
    /// Killed by a signal (or, for holdfast itself, a panic).
    Crashed,
    /// The gate could not be run at all (command missing, gate not in this build).
    NotRun,
    /// Refused, but not the way it must: an exit code other than the expected
    /// ones, or output written despite the refusal.
    Unexpected,
}

impl Outcome {
    /// Upper-case label for human output (`FAIL-CLOSED`, `FAIL-OPEN`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::FailClosed => "FAIL-CLOSED",
            Outcome::FailOpen => "FAIL-OPEN",
            Outcome::Timeout => "TIMEOUT",
            Outcome::Crashed => "CRASHED",
            Outcome::NotRun => "NOT RUN",
            Outcome::Unexpected => "UNEXPECTED",
        }
    }
}
