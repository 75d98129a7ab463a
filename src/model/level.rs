//! One level, low to critical, for the two things holdfast grades: a
//! surface's mutation risk (`risk` in `surfaces.toml`, and the policy's
//! `require_digest_for`) and a blocker's severity (`severity` in
//! `gates.toml` and the blocker map). They are one scale, so the policy and
//! a reader compare them without a mapping; the field says what is graded.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A level on the scale low < medium < high < critical: how badly a
/// mutation of a surface would hurt production (its risk), or how bad a
/// blocker is (its severity).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Low: as a risk, reversible with no user impact.
    Low,
    /// Medium: as a risk, reversible with effort, limited impact.
    Medium,
    /// High: as a risk, hard to reverse or user-visible.
    High,
    /// Critical: as a risk, irreversible or production-wide.
    Critical,
}

impl Level {
    /// The spelling used in TOML, JSON and the rendered tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_and_order() {
        let all = [Level::Low, Level::Medium, Level::High, Level::Critical];
        for l in all {
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{l}\""));
        }
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(serde_json::from_str::<Level>("\"severe\"").is_err());
    }
}
