//! A terminal progress bar that appears only for long work on a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holdfast::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work shorter than this never shows a bar.
const SHOW_AFTER: Duration = Duration::from_millis(800);

/// Progress on stderr, hidden unless stderr is a terminal and the work lasts.
/// One bar serves every step of a command: each `start` begins it afresh
/// (hidden again, its clock restarted), so a later step shows its own bar.
pub struct Bar {
    bar: ProgressBar,
    started: Mutex<Instant>,
    tty: bool,
    shown: AtomicBool,
}

impl Bar {
    /// A bar for the current process's stderr.
    pub fn new() -> Self {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
            started: Mutex::new(Instant::now()),
            tty: std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
        }
    }

    fn begin(&self, what: &str, unit: &str, n: u64) {
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
        self.shown.store(false, Ordering::Relaxed);
        if let Ok(mut t) = self.started.lock() {
            *t = Instant::now();
        }
        self.bar.reset();
        self.bar.set_length(n);
        self.bar.set_message(what.to_string());
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, eta {{eta}}"
        )) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, files: u64) {
        self.begin(what, "files", files);
    }

    fn start_counting(&self, what: &str, unit: &str, n: u64) {
        self.begin(what, unit, n);
    }

    fn grow(&self, files: u64) {
        self.bar.inc_length(files);
    }

    fn advance(&self, _bytes: u64) {
        self.bar.inc(1);
        let long = self
            .started
            .lock()
            .map(|t| t.elapsed() > SHOW_AFTER)
            .unwrap_or(false);
        if self.tty && long && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
