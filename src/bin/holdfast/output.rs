//! How results and errors reach the user: text on a terminal, JSON for scripts.

use holdfast::Error;
use holdfast::schema::shapes::{ErrorBody, ErrorOutput};
use serde::Serialize;

/// Output settings shared by every subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json` was given.
    pub json: bool,
}

impl Output {
    /// Prints a value as canonical JSON on stdout.
    pub fn print_json<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        let bytes = holdfast::canonical::to_bytes(value)?;
        write_stdout(format_args!("{}", String::from_utf8_lossy(&bytes)));
        Ok(())
    }

    /// Reports an error (one line on stderr; with `--json` also a JSON object
    /// on stdout) and returns its exit code.
    pub fn error(&self, err: &Error) -> i32 {
        let message = one_line(&err.to_string());
        eprintln!("holdfast: error: {message}");
        if self.json {
            print_error_json(message, err.exit_code());
        }
        err.exit_code()
    }
}

/// Prints the `--json` form of an error (`schemas/cli-error.schema.json`).
pub fn print_error_json(message: String, exit_code: i32) {
    let value = ErrorOutput {
        error: ErrorBody { message, exit_code },
    };
    if let Ok(bytes) = holdfast::canonical::to_bytes(&value) {
        write_stdout(format_args!("{}", String::from_utf8_lossy(&bytes)));
    }
}

/// The exit code when stdout's reader went away before everything was
/// written (a pipe into `head`): what a shell reports for a program that
/// SIGPIPE ended (128 + 13), so `set -o pipefail` sees the output was cut.
/// The operation itself had finished; nothing more is printed.
pub const BROKEN_PIPE: i32 = 141;

/// Writes command output to stdout. A closed pipe ends the process with
/// [`BROKEN_PIPE`] and no message; any other write error (a full disk
/// behind a redirection) with one line on stderr and exit 4, never a
/// panic.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(BROKEN_PIPE);
        }
        let _ = writeln!(
            std::io::stderr(),
            "holdfast: error: writing to standard output: {e}"
        );
        std::process::exit(holdfast::error::exit::IO);
    }
}

/// Folds any line breaks so every error stays on one line.
pub fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
