//! Globs as `files` snapshots and authorized mutations match them: `*` stays
//! within one `/`-separated component, `**` crosses them, `\\` escapes.

use globset::{Glob, GlobBuilder, GlobMatcher};

/// Builds one glob (errors name the pattern).
pub fn glob(pattern: &str) -> std::result::Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("{pattern:?} is not a valid glob: {e}"))
}

/// Compiles one glob the way `files` snapshots match it.
pub fn compile_glob(pattern: &str) -> std::result::Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err("an empty glob matches nothing".into());
    }
    Ok(glob(pattern)?.compile_matcher())
}
