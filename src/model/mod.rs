//! The model layer: what several concept modules share, at the bottom of the
//! module order so that they depend on it and never on each other for it.
//!
//! - [`token`]: the search for the pass token in an input.
//! - [`glob`]: globs as snapshots and authorizations match them.
//! - [`path`]: a relative path from outside, its one parse function and
//!   error enum.

pub mod glob;
pub mod path;
pub mod token;
