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
        print!("{}", String::from_utf8_lossy(&bytes));
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
        print!("{}", String::from_utf8_lossy(&bytes));
    }
}

/// Folds any line breaks so every error stays on one line.
pub fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
