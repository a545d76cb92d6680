//! Panics in destructors that run on a worker: they must neither let a frame that other workers
//! still write into unwind, nor kill the worker.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_threadpool::ThreadPool;
use common::{occupy_worker, wait_for, within_guard, Gate};

/// A panic payload, or a return value, whose destructor panics (unless it runs during an
/// unwind, which would abort).
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("PanicsOnDrop dropped");
        }
    }
}

/// Two scope tasks panic with payloads whose destructors panic; the second payload is dropped
/// on the worker that waits for a stolen `join` half. The scope must report the first panic once
/// everything finished, and nothing may unwind out of the `join` while the thief runs its half.
#[test]
fn a_losing_scope_panic_payload_is_dropped_quietly_inside_a_join() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    within_guard(move || {
        let b_started = AtomicBool::new(false);
        let b_done = AtomicBool::new(false);
        let p = pool.clone();
        let outcome = pool
            .submit(move || {
                let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                    p.scope(|s| {
                        p.join(
                            || {
                                // The second half runs on the other worker from here on.
                                while !b_started.load(Ordering::SeqCst) {
                                    std::hint::spin_loop();
                                }
                                s.spawn(|_| panic::panic_any(PanicsOnDrop));
                                s.spawn(|_| panic::panic_any(PanicsOnDrop));
                            },
                            || {
                                b_started.store(true, Ordering::SeqCst);
                                thread::sleep(Duration::from_millis(200));
                                b_done.store(true, Ordering::SeqCst);
                                [7u64; 64]
                            },
                        )
                    })
                }));
                let payload = caught.expect_err("a scope task panicked");
                let is_ours = payload.is::<PanicsOnDrop>();
                // Dropping it here would panic again.
                std::mem::forget(payload);
                (is_ours, b_done.load(Ordering::SeqCst))
            })
            .join()
            .unwrap();
        assert_eq!(outcome, (true, true));
    });
}

/// A submitted task whose handle was dropped returns a value whose destructor panics. The worker
/// that drops it lives on: both workers still run tasks, and the pool's drop returns.
#[test]
fn a_panicking_destructor_of_a_dropped_tasks_value_does_not_kill_its_worker() {
    let pool = ThreadPool::new(2).unwrap();
    within_guard(move || {
        let dropped = Arc::new(AtomicBool::new(false));
        {
            let dropped = dropped.clone();
            drop(pool.submit(move || {
                struct Reporting(Arc<AtomicBool>, PanicsOnDrop);
                impl Drop for Reporting {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::SeqCst);
                    }
                }
                thread::sleep(Duration::from_millis(50));
                Reporting(dropped, PanicsOnDrop)
            }));
        }
        wait_for(|| dropped.load(Ordering::SeqCst));
        // Both workers are needed from here on: one held at the gate, one for the task.
        for _ in 0..4 {
            let gate = Gate::new();
            let held = occupy_worker(&pool, &gate, ());
            assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
            gate.open();
            held.join().unwrap();
        }
        drop(pool);
    });
}
