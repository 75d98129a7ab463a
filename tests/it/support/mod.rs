//! Helpers shared by integration tests.

pub mod pg;
pub mod pytools;
pub mod validators;
