//! How results and errors reach the user: text on a terminal, JSON for scripts.

use holdfast::Error;
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
            let value = serde_json::json!({
                "error": { "message": message, "exit_code": err.exit_code() }
            });
            let _ = self.print_json(&value);
        }
        err.exit_code()
    }
}

/// Folds any line breaks so every error stays on one line.
pub fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
