//! The integration tests: one test binary, so the crate and its dependencies
//! are linked once (a binary per file linked twenty-six times, a few hundred
//! megabytes each). Each module is one area; `support` holds what several share.
//!
//! Run one area with a filter: `cargo test --test it rederive_cli::`.

mod support;

mod anchor_cli;
mod attest_cli;
mod blocker_map_cli;
mod change_cli;
mod change_postgres;
mod cli_json;
mod docs_guide;
mod docs_links;
mod docs_reference;
mod export_cli;
mod fail_closed_cli;
mod gate_cli;
mod gate_probe;
mod html_view;
mod init_cli;
mod module_order;
mod new_user;
mod parser_props;
mod pass_token;
mod path_spelling;
mod progress_tty;
mod rederive_cli;
mod registry_cli;
mod registry_crash;
mod registry_postgres;
mod run_cli;
mod run_registry_url;
mod schema_conformance;
mod schema_strict;
mod schemas;
mod seal_cli;
mod surface_cli;
mod surface_postgres;
mod surface_postgres_server;
mod verdict_props;
