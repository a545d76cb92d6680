/// Model check of the heartbeat's sleep: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p braid-threadpool --release --lib loom`.
#[cfg(loom)]
mod model {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    use crate::heartbeat::Heartbeat;

    /// A worker becomes busy (the count goes from 0 to 1, then `wake`, as
    /// `Shared::activate` does) while the heartbeat thread goes to sleep because none was: the
    /// heartbeat must wake. A lost wake-up leaves it blocked, which loom reports as a deadlock.
    #[test]
    fn loom_the_heartbeat_wakes_for_the_first_busy_worker() {
        loom::model(|| {
            let heartbeat = Arc::new(Heartbeat::new(2));
            let active = Arc::new(AtomicUsize::new(0));
            let worker = {
                let (heartbeat, active) = (heartbeat.clone(), active.clone());
                thread::spawn(move || {
                    if active.fetch_add(1, Ordering::SeqCst) == 0 {
                        heartbeat.wake();
                    }
                })
            };
            heartbeat.wait_busy(|| active.load(Ordering::SeqCst) == 0);
            heartbeat.tick();
            assert!(heartbeat.beat(1).load(Ordering::Relaxed));
            worker.join().unwrap();
        });
    }
}
