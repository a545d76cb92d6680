#[cfg(not(loom))]
mod threads {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::latch::CoreLatch;
    use crate::sleep::Sleep;

    /// Runs `sleeper` on its own thread, lets it fall asleep, calls `wake`, and fails the test
    /// (instead of hanging it) if the sleeper does not return within a minute.
    fn sleeper_returns_after(sleeper: impl FnOnce() + Send + 'static, wake: impl FnOnce()) {
        let (done_tx, done_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            sleeper();
            done_tx.send(()).unwrap();
        });
        thread::sleep(Duration::from_millis(20));
        wake();
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the wake-up was lost: the sleeper never returned");
        thread.join().unwrap();
    }

    #[test]
    fn notify_work_wakes_a_sleeping_thread() {
        let sleep = Arc::new(Sleep::new());
        let work = Arc::new(AtomicBool::new(false));
        let (sleeper_sleep, sleeper_work) = (sleep.clone(), work.clone());
        sleeper_returns_after(
            move || {
                while !sleeper_work.load(Ordering::Acquire) {
                    sleeper_sleep.idle_sleep(
                        None,
                        || sleeper_work.load(Ordering::Acquire),
                        || false,
                        None,
                    );
                }
            },
            || {
                work.store(true, Ordering::Release);
                sleep.notify_work();
            },
        );
    }

    #[test]
    fn setting_a_sleepy_latch_wakes_its_owner() {
        let sleep = Arc::new(Sleep::new());
        let latch = Arc::new(CoreLatch::new());
        let (owner_sleep, owner_latch) = (sleep.clone(), latch.clone());
        sleeper_returns_after(
            move || {
                while !owner_latch.probe() {
                    owner_sleep.idle_sleep(
                        Some(&owner_latch),
                        || false,
                        || owner_latch.probe(),
                        None,
                    );
                }
            },
            // SAFETY: the latch is kept alive by the Arc.
            || unsafe { CoreLatch::set(&*latch, &sleep) },
        );
    }

    #[test]
    fn idle_sleep_returns_at_the_deadline() {
        let sleep = Sleep::new();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(30);
        while Instant::now() < deadline {
            sleep.idle_sleep(None, || false, || false, Some(deadline));
        }
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}

/// Model checks of the sleep protocol: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p braid-threadpool --release --lib loom`.
#[cfg(loom)]
mod model {
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    use crate::latch::CoreLatch;
    use crate::sleep::Sleep;

    /// One submitter pushes one job (the counter stands in for a queue) and announces it with
    /// `notify`; one worker goes idle until it sees the job. A lost wake-up leaves the worker
    /// blocked forever, which loom reports as a deadlock.
    fn one_job_reaches_an_idle_worker(notify: fn(&Sleep)) {
        loom::model(move || {
            let sleep = Arc::new(Sleep::new());
            let jobs = Arc::new(AtomicUsize::new(0));
            let submitter = {
                let (sleep, jobs) = (sleep.clone(), jobs.clone());
                thread::spawn(move || {
                    jobs.store(1, Ordering::Relaxed);
                    notify(&sleep);
                })
            };
            let has_work = || jobs.load(Ordering::Relaxed) == 1;
            while !has_work() {
                sleep.idle_sleep(None, has_work, || false, None);
            }
            submitter.join().unwrap();
        });
    }

    /// In every interleaving the worker gets the job announced with `notify_work`.
    #[test]
    fn loom_notify_work_is_never_lost() {
        one_job_reaches_an_idle_worker(Sleep::notify_work);
    }

    /// A notification that skips the read-modify-write when a plain read sees no sleeper: loom
    /// must find the interleaving where it misses a worker that is announcing itself, which
    /// shows the model above is strong enough to catch a lost wake-up.
    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_a_notification_that_only_reads_can_lose_a_wake() {
        one_job_reaches_an_idle_worker(|sleep| {
            if sleep.state.load(Ordering::Relaxed) & crate::sleep::SLEEPERS_MASK != 0 {
                sleep.notify_work();
            }
        });
    }

    /// A worker waits on a latch that another thread sets: it must wake up.
    #[test]
    fn loom_latch_set_is_never_lost() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let latch = Arc::new(CoreLatch::new());
            let setter = {
                let (sleep, latch) = (sleep.clone(), latch.clone());
                // SAFETY: the Arc keeps the latch alive.
                thread::spawn(move || unsafe { CoreLatch::set(&*latch, &sleep) })
            };
            while !latch.probe() {
                sleep.idle_sleep(Some(&latch), || false, || latch.probe(), None);
            }
            setter.join().unwrap();
        });
    }

    /// The pool closes while a worker goes idle: the worker must see it and exit.
    #[test]
    fn loom_exit_wake_is_never_lost() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let closed = Arc::new(AtomicBool::new(false));
            let closer = {
                let (sleep, closed) = (sleep.clone(), closed.clone());
                thread::spawn(move || {
                    closed.store(true, Ordering::SeqCst);
                    sleep.wake_all();
                })
            };
            let stop = || closed.load(Ordering::SeqCst);
            while !stop() {
                sleep.idle_sleep(None, || false, stop, None);
            }
            closer.join().unwrap();
        });
    }
}
