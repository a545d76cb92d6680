/// Model checks of [`ParkLatch`]: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p braid-threadpool --release --lib loom`.
///
/// The waiter frees its latch as soon as `wait` returns; the models stand for that free with a
/// write over the latch's handle (see `free`), which loom checks against the setter's accesses.
/// A wake-up that never comes is a deadlock.
#[cfg(loom)]
mod model {
    // std's `Arc`, not loom's: it only keeps the latch's memory around (the models stand for
    // its free themselves), and loom's panics in its destructor while a deadlock unwinds.
    use std::sync::Arc;

    use loom::sync::atomic::Ordering;
    use loom::thread;

    use crate::latch::ParkLatch;

    /// What the owner's frame going away does to the latch, in a form loom checks: a write
    /// over the handle a setter needs. A setter access to it that the owner did not see happen
    /// before the latch was set is a causality violation.
    fn free(latch: &ParkLatch) {
        // SAFETY: none needed outside loom's check, which is the point.
        latch.waiter.with_mut(|waiter| unsafe { *waiter = None });
    }

    /// One thread sets the latch with `set` while its owner waits, then frees it.
    fn set_while_the_owner_waits_and_frees(set: unsafe fn(*const ParkLatch)) {
        loom::model(move || {
            let latch = Arc::new(ParkLatch::new());
            let setter = {
                let latch = latch.clone();
                // SAFETY: the Arc keeps the latch alive; the model checks the accesses instead.
                thread::spawn(move || unsafe { set(&*latch) })
            };
            latch.wait();
            free(&latch);
            setter.join().unwrap();
        });
    }

    /// In every interleaving the owner wakes, and the setter is done with the latch before
    /// the owner can free it.
    #[test]
    fn loom_park_latch_wakes_its_owner_and_is_not_touched_after_the_wake() {
        set_while_the_owner_waits_and_frees(ParkLatch::set);
    }

    /// A setter that goes on using the latch after the store (here it swaps the flag to ask
    /// whether the owner still needs a wake-up, then wakes it through the latch's handle): loom
    /// must find the interleaving where the owner has already freed the latch, which shows the
    /// model above catches a setter touching a freed latch.
    ///
    /// Loom switches threads only at operations on atomics and other shared objects, and its
    /// `unpark` orders everything before it with all the woken thread does later, even when that
    /// thread never parked; so a setter whose one access after the store is reading the handle
    /// to unpark slips past the model. `ParkLatch::set` has no access at all after the store.
    #[test]
    #[should_panic(expected = "Causality violation")]
    fn loom_using_the_latch_after_the_store_is_caught() {
        /// # Safety
        ///
        /// As [`ParkLatch::set`]; this one breaks its promise on purpose.
        unsafe fn set_then_use(this: *const ParkLatch) {
            // SAFETY: none: the point of this model is that the latch may be gone.
            unsafe {
                (*this).set.store(true, Ordering::Release);
                if (*this).set.swap(true, Ordering::AcqRel) {
                    if let Some(waiter) = (*this).waiter.with(|waiter| (*waiter).clone()) {
                        waiter.unpark();
                    }
                }
            }
        }
        set_while_the_owner_waits_and_frees(set_then_use);
    }

    /// A setter that wakes the owner before it sets the latch: loom must find the interleaving
    /// where the owner wakes, sees the latch unset and parks again for good.
    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_unparking_before_the_store_is_a_lost_wake() {
        /// # Safety
        ///
        /// As [`ParkLatch::set`].
        unsafe fn unpark_then_set(this: *const ParkLatch) {
            // SAFETY: the latch is live until the store, as in `ParkLatch::set`.
            unsafe {
                if let Some(waiter) = (*this).waiter.with_mut(|waiter| (*waiter).take()) {
                    waiter.unpark();
                }
                (*this).set.store(true, Ordering::Release);
            }
        }
        set_while_the_owner_waits_and_frees(unpark_then_set);
    }

    /// A setter may unpark its owner after the owner stopped waiting, leaving a token that ends
    /// the owner's next `park` early: the next wait must still last until its own latch is set.
    #[test]
    fn loom_a_stale_unpark_does_not_end_the_next_wait() {
        loom::model(|| {
            for _ in 0..2 {
                let latch = Arc::new(ParkLatch::new());
                let setter = {
                    let latch = latch.clone();
                    // SAFETY: the Arc keeps the latch alive.
                    thread::spawn(move || unsafe { ParkLatch::set(&*latch) })
                };
                latch.wait();
                assert!(latch.probe());
                // Not joined: its unpark may land while the next round waits.
                drop(setter);
            }
        });
    }
}
