//! holdfast: sealed, re-verifiable evidence packets for production-affecting
//! runs, and the governance registry of object ids they claim.
//!
//! The library holds all the logic; the `holdfast` binary is a thin layer of
//! argument parsing and output over it. One module per concept: [`seal`]
//! (manifest and tree hash), [`registry`], [`surface`], [`gate`], [`probe`]
//! (the bad-input probe harness) and [`packet`] (derived by one function,
//! re-derived by `verify --rerun`), over the shared [`model`] (relative
//! paths, the pass-token search, globs) and helpers ([`canonical`] JSON,
//! atomic [`fsio`], [`digest`], [`progress`]). `docs/ARCHITECTURE.md` maps
//! them and gives their dependency order, which a test holds.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attest;
pub mod authz;
pub mod canonical;
pub mod change;
pub mod cli_output;
pub mod digest;
pub mod error;
pub mod export;
pub mod fsio;
pub mod gate;
pub mod model;
pub mod packet;
pub mod pgconn;
pub mod probe;
pub mod process;
pub mod progress;
pub mod registry;
pub mod schema;
pub mod seal;
pub mod surface;
pub mod tomlio;

pub use error::{Error, Result};
