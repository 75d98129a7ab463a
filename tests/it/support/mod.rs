//! Helpers shared by integration tests.

pub mod oscal_schema;
pub mod pg;
pub mod pytools;
pub mod validators;
