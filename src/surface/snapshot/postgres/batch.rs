//! The reading threads' scheduling hint.
//!
//! A connection's thread consumes rows faster than a server backend writes
//! them, so without a hint it sleeps on its socket and is woken, and
//! preempts whatever runs, each time the backend has flushed its 8 KiB send
//! buffer: a wakeup per hundred rows. Marked `SCHED_BATCH` (Linux), a thread
//! is still woken, but no longer preempts on wakeup; it runs when a core is
//! free and reads what accumulated meanwhile. On a machine whose cores
//! holdfast and the server share, that is a tenth of the context switches
//! and about a tenth less time for a snapshot (`bench/postgres.sh`); on a
//! server elsewhere it changes little. The thread's nice value is kept, and
//! the hint is only a hint: where it cannot be given, nothing else changes.

/// Marks the calling thread as throughput work (`SCHED_BATCH`, its nice
/// value unchanged) when it runs under the default policy; does nothing
/// where that is not supported or refused, and leaves any other policy as
/// it is (an idle thread is not raised, a real-time one not lowered).
/// Only threads that holdfast started for the read call it, so the
/// caller's own thread keeps its policy.
pub fn mark_current_thread() {
    // A thread inherits its creator's policy: rayon's global pool, which
    // the read's hashing and later work (probes, seal) share, is started
    // first, from this thread while it is still unmarked.
    let _ = rayon::current_num_threads();
    #[cfg(target_os = "linux")]
    linux::mark_current_thread();
}

#[cfg(target_os = "linux")]
mod linux {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id, thread_schedule_policy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};

    const BATCH: ThreadSchedulePolicy =
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);

    const OTHER: ThreadSchedulePolicy =
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);

    pub(super) fn mark_current_thread() {
        if thread_schedule_policy().ok() != Some(OTHER) {
            return;
        }
        // Linux's getpriority(PRIO_PROCESS, 0) is the calling thread's.
        let Ok(nice) = rustix::process::getpriority_process(None) else {
            return;
        };
        // The crate sets a nice value with the policy; give it the current
        // one, so that nothing but the policy changes (a lower value would
        // need privileges, a higher one would slow the read).
        if let Some(priority) = priority_for_nice(nice) {
            let _ = set_thread_priority_and_policy(thread_native_id(), priority, BATCH);
        }
    }

    /// The crate's priority value that it turns into nice value `nice`
    /// under `SCHED_BATCH`, found through its own conversion.
    pub(super) fn priority_for_nice(nice: i32) -> Option<ThreadPriority> {
        (0..=99u8)
            .filter_map(|p| ThreadPriorityValue::try_from(p).ok())
            .map(ThreadPriority::Crossplatform)
            .find(|p| p.to_posix(BATCH).ok() == Some(nice))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_nice_value_has_a_priority_that_keeps_it() {
            for nice in -20..=19 {
                let p = priority_for_nice(nice).unwrap_or_else(|| panic!("nice {nice}"));
                assert_eq!(p.to_posix(BATCH).ok(), Some(nice));
            }
            assert!(priority_for_nice(20).is_none());
            assert!(priority_for_nice(-21).is_none());
        }

        #[test]
        fn another_policy_is_left_as_it_is() {
            std::thread::spawn(|| {
                let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
                set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
                    .expect("any thread may make itself idle");
                super::super::mark_current_thread();
                assert_eq!(thread_schedule_policy().ok(), Some(idle));
            })
            .join()
            .expect("thread");
        }

        #[test]
        fn rayons_pool_is_not_marked() {
            std::thread::spawn(|| {
                super::super::mark_current_thread();
                assert_eq!(thread_schedule_policy().ok(), Some(BATCH));
                let pool: Vec<_> = rayon::broadcast(|_| thread_schedule_policy().ok());
                assert!(pool.iter().all(|p| *p == Some(OTHER)), "{pool:?}");
            })
            .join()
            .expect("thread");
        }

        #[test]
        fn a_marked_thread_is_batch_with_its_nice_value() {
            std::thread::spawn(|| {
                let before = rustix::process::getpriority_process(None).expect("nice");
                super::super::mark_current_thread();
                let after = rustix::process::getpriority_process(None).expect("nice");
                assert_eq!(before, after, "the nice value changed");
                assert_eq!(
                    thread_priority::unix::thread_schedule_policy().ok(),
                    Some(BATCH)
                );
            })
            .join()
            .expect("thread");
        }
    }
}
