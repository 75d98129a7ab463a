//! A terminal progress bar that appears only for long work on a terminal.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdfast::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work shorter than this never shows a bar.
const SHOW_AFTER: Duration = Duration::from_millis(800);

/// How often a shown bar redraws on its own, so its elapsed time moves
/// while one long item (a slow user gate) is still running.
const TICK: Duration = Duration::from_millis(100);

/// Progress on stderr, hidden unless stderr is a terminal and the work lasts.
/// One bar serves every step of a command: each `start` begins it afresh
/// (hidden again, its clock restarted), so a later step shows its own bar.
pub struct Bar {
    bar: ProgressBar,
    /// Which step the bar is on, shared with the timer that shows it: the
    /// timer shows the bar only if its step is still the one running.
    step: Arc<Mutex<Step>>,
    tty: bool,
}

/// The bar's current step, as the show timer sees it.
#[derive(Default)]
struct Step {
    generation: u64,
    running: bool,
}

impl Bar {
    /// A bar for the current process's stderr.
    pub fn new() -> Self {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
            step: Arc::new(Mutex::new(Step::default())),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn begin(&self, what: &str, unit: &str, n: u64) {
        let Ok(mut step) = self.step.lock() else {
            return;
        };
        step.generation += 1;
        step.running = true;
        self.bar.disable_steady_tick();
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
        self.bar.reset();
        self.bar.set_length(n);
        self.bar.set_message(what.to_string());
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, eta {{eta}}"
        )) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        if self.tty {
            self.show_later(step.generation);
        }
    }

    /// Shows the bar once the step has lasted `SHOW_AFTER`, whether or not
    /// an item finished meanwhile: a single slow item still gets a bar.
    fn show_later(&self, generation: u64) {
        let bar = self.bar.clone();
        let step = Arc::clone(&self.step);
        std::thread::spawn(move || {
            std::thread::sleep(SHOW_AFTER);
            // Holding the lock while showing keeps `finish` from clearing
            // the bar in between, which would leave a stale bar drawn.
            if let Ok(step) = step.lock()
                && step.generation == generation
                && step.running
            {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.enable_steady_tick(TICK);
            }
        });
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
    }

    fn finish(&self) {
        let step = self.step.lock();
        if let Ok(mut step) = step {
            step.running = false;
        }
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
    }
}
