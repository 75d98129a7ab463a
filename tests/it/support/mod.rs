//! Helpers shared by integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod oscal_schema;
pub mod pg;
pub mod pytools;
pub mod validators;

/// The `holdfast` binary this test build made, ready to be given arguments.
pub fn holdfast() -> Command {
    Command::cargo_bin("holdfast").unwrap()
}

/// The FIX7 example spec that ships in the repository.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fix7")
}
