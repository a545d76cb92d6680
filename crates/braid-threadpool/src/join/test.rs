#[cfg(not(loom))]
mod threads {
    use std::ptr;
    use std::sync::Arc;
    use std::thread;

    use crate::join::slot::{Reclaim, Slot};

    #[test]
    fn an_offered_item_is_reclaimed_by_its_owner_when_nobody_took_it() {
        let slot = Slot::new();
        let item = 7_u32;
        assert!(slot.is_empty());
        slot.offer(&item);
        assert!(!slot.is_empty());
        assert_eq!(slot.reclaim(&item), Reclaim::Reclaimed);
        assert!(slot.is_empty());
        assert_eq!(slot.take(), None);
    }

    #[test]
    fn a_taken_item_cannot_be_reclaimed() {
        let slot = Slot::new();
        let item = 7_u32;
        slot.offer(&item);
        assert!(ptr::eq(slot.take().unwrap(), &item));
        assert_eq!(slot.take(), None);
        assert_eq!(slot.reclaim(&item), Reclaim::Taken);
    }

    /// Many threads race to take one offered item at a time: each item goes to exactly one of
    /// them, or back to the owner.
    #[test]
    fn each_offer_goes_to_exactly_one_taker() {
        static ITEMS: [u32; 2] = [0, 1];
        let slot = Arc::new(Slot::<u32>::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let takers: Vec<_> = (0..3)
            .map(|_| {
                let (slot, stop) = (slot.clone(), stop.clone());
                thread::spawn(move || {
                    let mut taken = 0_u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if slot.take().is_some() {
                            taken += 1;
                        }
                    }
                    taken
                })
            })
            .collect();
        let mut reclaimed = 0_u64;
        let offers = 20_000_u64;
        for round in 0..offers {
            let item = &ITEMS[round as usize % 2];
            slot.offer(item);
            if slot.reclaim(item) == Reclaim::Reclaimed {
                reclaimed += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let taken: u64 = takers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken + reclaimed, offers);
    }
}

/// A job that unwinds into a worker waiting for a stolen `join` half must not let the `join`'s
/// frame go while the thief still writes into it: the process aborts instead. Every job of the
/// crate catches its own panics, so this test makes a job that does not. It runs itself again as
/// a child process, which must die of `SIGABRT`.
#[cfg(all(not(loom), unix))]
mod abort {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use crate::job::{Call, JobRef};
    use crate::worker::WorkerThread;
    use crate::ThreadPool;

    const CHILD: &str = "BRAID_THREADPOOL_ABORT_TEST_CHILD";
    const NAME: &str = "join::test::abort::a_job_that_unwinds_into_a_waiting_join_aborts";

    static UNWOUND: AtomicBool = AtomicBool::new(false);

    /// The `execute` of a job that unwinds.
    ///
    /// # Safety
    ///
    /// None needed: it touches nothing.
    unsafe fn unwinds(_: *const (), _: Call<'_>) {
        UNWOUND.store(true, Ordering::SeqCst);
        panic!("a job that unwinds");
    }

    #[test]
    fn a_job_that_unwinds_into_a_waiting_join_aborts() {
        if std::env::var_os(CHILD).is_some() {
            child();
            return;
        }
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{stderr}");
        assert!(stderr.contains("aborting"), "{stderr}");
    }

    fn child() {
        let pool = Arc::new(ThreadPool::new(2).unwrap());
        let p = pool.clone();
        let _ = pool
            .submit(move || {
                let b_started = AtomicBool::new(false);
                p.join(
                    || {
                        while !b_started.load(Ordering::SeqCst) {
                            std::hint::spin_loop();
                        }
                        let worker = WorkerThread::current_in(&p.shared).unwrap();
                        let data = std::ptr::NonNull::<u16>::dangling().as_ptr();
                        // SAFETY: `unwinds` reads nothing through the address.
                        worker.push_local(unsafe { JobRef::new(data.cast(), unwinds, false) });
                    },
                    || {
                        b_started.store(true, Ordering::SeqCst);
                        // Busy until the job unwound, so only the owner of the `join` can run it,
                        // while it waits for this half.
                        while !UNWOUND.load(Ordering::SeqCst) {
                            std::thread::yield_now();
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    },
                )
            })
            .join();
    }
}

/// Model checks of how a promoted `join` half changes hands: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p braid-threadpool --release --lib loom`.
#[cfg(loom)]
mod model {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    use crate::join::slot::{Reclaim, Slot};
    use crate::latch::CoreLatch;
    use crate::sleep::Sleep;

    /// Stands for the frame of a `join`: the second half's result and the latch its taker sets.
    struct Frame {
        result: UnsafeCell<Option<u32>>,
        latch: CoreLatch,
        runs: AtomicUsize,
    }

    impl Frame {
        /// Runs the second half: counts the run and writes the result. The model checker
        /// reports a data race if two threads ever did this for the same frame, or if the owner
        /// read the result before the write was published to it.
        fn run_b(&self) {
            self.runs.fetch_add(1, Ordering::Relaxed);
            // SAFETY: whoever runs `b` owns the frame's result until it publishes it (the latch)
            // or reads it itself; loom checks that no access overlaps.
            self.result.with_mut(|result| unsafe { *result = Some(42) });
        }

        fn result(&self) -> Option<u32> {
            // SAFETY: as in `run_b`.
            self.result.with(|result| unsafe { *result })
        }
    }

    /// An idle worker: sleeps until the slot has something or `done`, takes what it finds, runs
    /// it and sets its latch, like a thief taking a promoted half.
    fn thief(sleep: &Sleep, slot: &Slot<Frame>, done: &AtomicBool) {
        loop {
            if let Some(frame) = slot.take() {
                // SAFETY: the owner keeps the frame alive until its latch is set.
                unsafe {
                    (*frame).run_b();
                    CoreLatch::set(&(*frame).latch, sleep);
                }
                return;
            }
            if done.load(Ordering::SeqCst) {
                return;
            }
            sleep.idle_sleep(
                None,
                || !slot.is_empty(),
                || done.load(Ordering::SeqCst),
                None,
            );
        }
    }

    /// The owner of a `join`: promotes its second half (offer, then a reliable notification),
    /// runs its first half (nothing here), then takes the second half back or waits for the
    /// thief, sleeping in the pool's `Sleep` like a worker with nothing else to do.
    fn owner(sleep: &Sleep, slot: &Slot<Frame>, frame: &Frame) {
        owner_reclaiming_with(sleep, slot, frame, Slot::reclaim);
    }

    /// [`owner`] with a given way to take the half back.
    fn owner_reclaiming_with(
        sleep: &Sleep,
        slot: &Slot<Frame>,
        frame: &Frame,
        reclaim: fn(&Slot<Frame>, *const Frame) -> Reclaim,
    ) {
        slot.offer(frame);
        sleep.notify_work();
        match reclaim(slot, frame) {
            Reclaim::Reclaimed => frame.run_b(),
            Reclaim::Taken => {
                while !frame.latch.probe() {
                    sleep.idle_sleep(Some(&frame.latch), || false, || frame.latch.probe(), None);
                }
            }
        }
        assert_eq!(frame.result(), Some(42), "the owner read no result");
        assert_eq!(frame.runs.load(Ordering::Relaxed), 1, "b ran twice");
    }

    /// In every interleaving the second half runs exactly once, its result reaches the owner,
    /// and neither the thief's wake-up nor the owner's is lost (loom reports a lost one as a
    /// deadlock).
    #[test]
    fn loom_a_promoted_half_runs_once_and_its_owner_gets_the_result() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let sleep = Arc::new(Sleep::new());
            let slot = Arc::new(Slot::new());
            let done = Arc::new(AtomicBool::new(false));
            let thief = {
                let (sleep, slot, done) = (sleep.clone(), slot.clone(), done.clone());
                thread::spawn(move || thief(&sleep, &slot, &done))
            };
            let frame = Frame {
                result: UnsafeCell::new(None),
                latch: CoreLatch::new(),
                runs: AtomicUsize::new(0),
            };
            owner(&sleep, &slot, &frame);
            done.store(true, Ordering::SeqCst);
            sleep.wake_all();
            thief.join().unwrap();
        });
    }

    /// The same model with an owner that only looks whether its half is still offered instead
    /// of taking it out of the slot: loom must find the interleaving where the thief takes it
    /// as well and both write `b`'s result at once, which shows the model can catch a broken hand-over.
    #[test]
    #[should_panic(expected = "Concurrent write accesses")]
    fn loom_a_reclaim_that_only_looks_runs_b_twice() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let slot = Arc::new(Slot::new());
            let done = Arc::new(AtomicBool::new(false));
            let thief = {
                let (sleep, slot, done) = (sleep.clone(), slot.clone(), done.clone());
                thread::spawn(move || thief(&sleep, &slot, &done))
            };
            let frame = Frame {
                result: UnsafeCell::new(None),
                latch: CoreLatch::new(),
                runs: AtomicUsize::new(0),
            };
            owner_reclaiming_with(&sleep, &slot, &frame, |slot, _| {
                if slot.is_empty() {
                    Reclaim::Taken
                } else {
                    Reclaim::Reclaimed
                }
            });
            done.store(true, Ordering::SeqCst);
            sleep.wake_all();
            thief.join().unwrap();
        });
    }

    /// Two idle workers race for one promoted half while its owner tries to take it back: still
    /// exactly one run.
    #[test]
    fn loom_two_thieves_and_the_owner_race_for_one_half() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let sleep = Arc::new(Sleep::new());
            let slot = Arc::new(Slot::new());
            let done = Arc::new(AtomicBool::new(false));
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let (sleep, slot, done) = (sleep.clone(), slot.clone(), done.clone());
                    thread::spawn(move || thief(&sleep, &slot, &done))
                })
                .collect();
            let frame = Frame {
                result: UnsafeCell::new(None),
                latch: CoreLatch::new(),
                runs: AtomicUsize::new(0),
            };
            owner(&sleep, &slot, &frame);
            done.store(true, Ordering::SeqCst);
            sleep.wake_all();
            for thief in thieves {
                thief.join().unwrap();
            }
        });
    }
}
