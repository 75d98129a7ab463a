//! A terminal progress bar that appears only for long work on a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holdfast::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work shorter than this never shows a bar.
const SHOW_AFTER: Duration = Duration::from_millis(800);

/// Progress on stderr, hidden unless stderr is a terminal and the work lasts.
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    tty: bool,
    shown: AtomicBool,
}

impl Bar {
    /// A bar for the current process's stderr.
    pub fn new() -> Self {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, files: u64) {
        self.bar.set_length(files);
        self.bar.set_position(0);
        self.bar.set_message(what.to_string());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} files, {elapsed} elapsed, eta {eta}",
        ) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }

    fn grow(&self, files: u64) {
        self.bar.inc_length(files);
    }

    fn advance(&self, _bytes: u64) {
        self.bar.inc(1);
        if self.tty
            && !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > SHOW_AFTER
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
