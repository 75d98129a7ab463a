//! The packet: from a run spec to a sealed, verified evidence directory.
//!
//! [`spec`] reads `packet.toml`; [`journal`] records what the run executed
//! and writes the re-run scripts.

pub mod journal;
pub mod spec;
