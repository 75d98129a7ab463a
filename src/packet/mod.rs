//! The packet: from a run spec to a sealed, verified evidence directory.
//!
//! [`spec`] reads `packet.toml`; [`journal`] records what the run executed
//! and writes the re-run scripts.

pub mod anchor;
pub mod derive;
pub mod evidence;
pub mod html;
pub mod init;
pub mod inputs;
pub mod journal;
pub mod layout;
pub mod manifest;
pub mod model;
pub mod readme;
pub mod rederive;
pub mod rerun;
pub mod run;
pub mod spec;
pub mod wire;
