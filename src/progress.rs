//! Progress reporting, as a trait so the library never draws on a terminal
//! itself: the CLI decides whether a bar is worth showing.

/// Receives progress from long operations. Implementations must be cheap and
/// thread-safe: hashing threads call `advance` concurrently.
pub trait Progress: Sync {
    /// Work of `files` files is about to start.
    fn start(&self, what: &str, files: u64);
    /// Work of `n` items that are not files (`unit`, plural: "probes") is
    /// about to start, so a display counts what it says it counts.
    fn start_counting(&self, what: &str, unit: &str, n: u64) {
        let _ = unit;
        self.start(what, n);
    }
    /// `files` more files were discovered (for work whose size is learned
    /// while it runs, such as hashing during a walk).
    fn grow(&self, files: u64) {
        let _ = files;
    }
    /// One more file of `bytes` bytes is done.
    fn advance(&self, bytes: u64);
    /// The work is over (successfully or not).
    fn finish(&self);
}

/// A progress sink that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _what: &str, _files: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}
