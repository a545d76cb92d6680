//! The first `join` of every job a worker takes from a queue offers its own second half at once,
//! whatever else is pending on the worker's stack or waiting in its slot. These programs have
//! halves that wait for each other; each hangs (and fails through the guard) if that half is
//! kept private.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use braid_threadpool::ThreadPool;
use common::{below_pending, occupy_worker, wait_for, within_guard, Gate};

/// A job X, submitted and waited for inside the first half of a `join` whose second half is
/// still pending, runs nested on the same worker. X's first `join` must offer X's own second
/// half, not the older pending one. `consume_first_join` makes the outer `join` the second of its
/// task (so its half stays private); otherwise it is the first one, and its half sits offered in
/// the slot while the other worker is busy. `private` more `join`s around the wait add as many
/// private halves below X.
fn nested_first_join(consume_first_join: bool, private: u32) {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    within_guard(move || {
        // Keep one worker busy, so the outer task and X run on the other.
        let gate = Gate::new();
        let blocker = occupy_worker(&pool, &gate, ());
        let x_started = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel();
        let outer = {
            let (pool, x_started) = (pool.clone(), x_started.clone());
            pool.clone().submit(move || {
                if consume_first_join {
                    pool.join(|| (), || ());
                }
                pool.join(
                    || {
                        below_pending(&pool, private, || {
                            let inner = pool.clone();
                            let x = pool.submit(move || {
                                let barrier = Barrier::new(2);
                                inner.join(
                                    || {
                                        x_started.store(true, Ordering::SeqCst);
                                        barrier.wait();
                                    },
                                    || {
                                        barrier.wait();
                                    },
                                );
                            });
                            x.join().unwrap();
                        })
                    },
                    || (),
                );
                done_tx.send(()).unwrap();
            })
        };
        // X's first half is blocked on the barrier: free the other worker, which must find X's
        // second half.
        wait_for(|| x_started.load(Ordering::SeqCst));
        gate.open();
        blocker.join().unwrap();
        done_rx.recv().unwrap();
        outer.join().unwrap();
    });
}

#[test]
fn a_nested_jobs_first_join_offers_its_own_half_under_a_private_one() {
    nested_first_join(true, 0);
}

#[test]
fn a_nested_jobs_first_join_offers_its_own_half_while_the_slot_is_full() {
    nested_first_join(false, 0);
}

/// Below four private halves, where the worker's own `join`s make no entry: X's first `join`
/// still offers its half.
#[test]
fn a_nested_jobs_first_join_offers_its_own_half_under_four_private_ones() {
    nested_first_join(true, 3);
}

/// A `join` called from outside the pool whose halves wait for each other completes, even when
/// the worker that picks it up does so inside a wait whose frame below holds a private half.
#[test]
fn an_outside_join_picked_up_inside_a_wait_offers_its_half() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    within_guard(move || {
        let gate = Gate::new();
        let blocker = occupy_worker(&pool, &gate, ());
        let outer = {
            let pool = pool.clone();
            pool.clone().submit(move || {
                // This task's first join; the next one's half stays private.
                pool.join(|| (), || ());
                pool.join(
                    || {
                        // Once the outside join is queued, wait: the worker takes it from the
                        // queue in here, above the private half.
                        wait_for(|| pool.metrics().queued() > 0);
                        blocker.join().unwrap();
                    },
                    || (),
                );
            })
        };
        let a_started = Arc::new(AtomicBool::new(false));
        let outside = {
            let (pool, a_started) = (pool.clone(), a_started.clone());
            thread::spawn(move || {
                let barrier = Barrier::new(2);
                pool.join(
                    || {
                        a_started.store(true, Ordering::SeqCst);
                        barrier.wait();
                    },
                    || {
                        barrier.wait();
                    },
                );
            })
        };
        wait_for(|| a_started.load(Ordering::SeqCst));
        gate.open();
        outside.join().unwrap();
        outer.join().unwrap();
    });
}
