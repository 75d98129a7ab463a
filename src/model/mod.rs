//! The model layer: what several concept modules share, at the bottom of the
//! module order so that they depend on it and never on each other for it.
//!
//! - [`token`]: the search for the pass token in an input.
//! - [`text`]: text a packet shows is plain text on one line.
//! - [`glob`]: globs as snapshots and authorizations match them.
//! - [`path`]: a relative path from outside, its one parse function and
//!   error enum.
//! - [`proof`]: the proof status of one surface and the proof's overall
//!   result, one type each for the surface and gate modules.
//! - [`level`]: the one scale low..critical of a surface's risk and a
//!   blocker's severity.
//! - [`outcome`]: how one bad-input probe ended.
//! - [`fact`]: the derived fact (what still blocks production): its kinds,
//!   its id scheme, its evidence and each kind's detail, one type for the
//!   surface, gate, probe, change and packet modules.

pub mod fact;
pub mod glob;
pub mod level;
pub mod outcome;
pub mod path;
pub mod proof;
pub mod text;
pub mod token;
