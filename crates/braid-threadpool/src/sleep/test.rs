#[cfg(not(loom))]
mod threads {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::latch::CoreLatch;
    use crate::sleep::Sleep;

    #[test]
    fn notify_work_wakes_a_sleeping_thread() {
        let sleep = Arc::new(Sleep::new());
        let work = Arc::new(AtomicBool::new(false));
        let sleeper = {
            let (sleep, work) = (sleep.clone(), work.clone());
            thread::spawn(move || {
                while !work.load(Ordering::Acquire) {
                    sleep.idle_sleep(None, || work.load(Ordering::Acquire), || false, None);
                }
            })
        };
        thread::sleep(Duration::from_millis(20));
        work.store(true, Ordering::Release);
        sleep.notify_work();
        sleeper.join().unwrap();
    }

    #[test]
    fn setting_a_sleepy_latch_wakes_its_owner() {
        let sleep = Arc::new(Sleep::new());
        let latch = Arc::new(CoreLatch::new());
        let owner = {
            let (sleep, latch) = (sleep.clone(), latch.clone());
            thread::spawn(move || {
                while !latch.probe() {
                    sleep.idle_sleep(Some(&latch), || false, || latch.probe(), None);
                }
            })
        };
        thread::sleep(Duration::from_millis(20));
        // SAFETY: the latch is kept alive by the Arc.
        unsafe { CoreLatch::set(&*latch, &sleep) };
        owner.join().unwrap();
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

    /// One submitter pushes one job (the counter stands in for a queue) and notifies; one worker
    /// goes idle. In every interleaving the worker must get the job: a lost wake-up leaves it
    /// blocked forever, which loom reports as a deadlock.
    #[test]
    fn loom_notify_work_is_never_lost() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let jobs = Arc::new(AtomicUsize::new(0));
            let submitter = {
                let (sleep, jobs) = (sleep.clone(), jobs.clone());
                thread::spawn(move || {
                    jobs.store(1, Ordering::Relaxed);
                    sleep.notify_work();
                })
            };
            let has_work = || jobs.load(Ordering::Relaxed) == 1;
            while !has_work() {
                sleep.idle_sleep(None, has_work, || false, None);
            }
            submitter.join().unwrap();
        });
    }

    /// The same model with the best-effort `notify_work_hint`: loom must find the interleaving
    /// where the hint misses the sleeper, which shows the model above is strong enough to catch
    /// a lost wake-up (and why only work its own worker will run may use the hint).
    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_hint_alone_can_lose_a_wake() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let jobs = Arc::new(AtomicUsize::new(0));
            let submitter = {
                let (sleep, jobs) = (sleep.clone(), jobs.clone());
                thread::spawn(move || {
                    jobs.store(1, Ordering::Relaxed);
                    sleep.notify_work_hint();
                })
            };
            let has_work = || jobs.load(Ordering::Relaxed) == 1;
            while !has_work() {
                sleep.idle_sleep(None, has_work, || false, None);
            }
            submitter.join().unwrap();
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
