//! Fork-join with `ThreadPool::join`.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_threadpool::{Shutdown, ThreadPool};
use common::within_guard;

fn fib(pool: &ThreadPool, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = pool.join(|| fib(pool, n - 1), || fib(pool, n - 2));
    a + b
}

#[test]
fn join_computes_both_sides() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(pool.join(|| 1 + 1, || "two"), (2, "two"));
    assert_eq!(fib(&pool, 22), 17_711);
}

#[test]
fn join_nests_twenty_levels_deep_on_one_and_two_workers() {
    fn nest(pool: &ThreadPool, depth: u32, leaves: &AtomicUsize) -> u32 {
        if depth == 0 {
            leaves.fetch_add(1, Ordering::Relaxed);
            return 1;
        }
        // Only one side recurses, so the depth is 20 while the work stays small; the other
        // side yields so it gets stolen now and then.
        let (a, b) = pool.join(
            || nest(pool, depth - 1, leaves),
            || {
                thread::yield_now();
                depth
            },
        );
        a + b
    }
    for workers in [1, 2] {
        let pool = Arc::new(ThreadPool::new(workers).unwrap());
        let leaves = Arc::new(AtomicUsize::new(0));
        let (pool2, leaves2) = (pool.clone(), leaves.clone());
        let total = within_guard(move || nest(&pool2, 20, &leaves2));
        assert_eq!(total, 1 + (1..=20).sum::<u32>());
        assert_eq!(leaves.load(Ordering::Relaxed), 1);
    }
}

#[test]
fn full_binary_join_tree_twenty_levels_deep_counts_every_leaf() {
    fn tree(pool: &ThreadPool, depth: u32, leaves: &AtomicUsize) {
        if depth == 0 {
            leaves.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pool.join(
            || tree(pool, depth - 1, leaves),
            || tree(pool, depth - 1, leaves),
        );
    }
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let leaves = Arc::new(AtomicUsize::new(0));
    let (pool2, leaves2) = (pool.clone(), leaves.clone());
    within_guard(move || tree(&pool2, 20, &leaves2));
    assert_eq!(leaves.load(Ordering::Relaxed), 1 << 20);
}

#[test]
fn join_inside_a_submitted_task_on_a_one_worker_pool() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner = pool.clone();
    let handle = pool.submit(move || fib(&inner, 15));
    assert_eq!(within_guard(move || handle.join().unwrap()), 610);
}

#[test]
fn a_panic_in_a_propagates_after_b_finished() {
    let pool = ThreadPool::new(2).unwrap();
    let b_done = AtomicBool::new(false);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.join(
            || -> () { panic!("left side") },
            || {
                thread::sleep(Duration::from_millis(20));
                b_done.store(true, Ordering::SeqCst);
            },
        )
    }));
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"left side"));
    assert!(
        b_done.load(Ordering::SeqCst),
        "b finished before the panic reached the caller"
    );
}

#[test]
fn a_panic_in_b_propagates_after_a_finished() {
    let pool = ThreadPool::new(2).unwrap();
    let a_done = AtomicBool::new(false);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.join(
            || {
                thread::sleep(Duration::from_millis(20));
                a_done.store(true, Ordering::SeqCst);
            },
            || -> () { panic!("right side") },
        )
    }));
    assert_eq!(
        result.unwrap_err().downcast_ref::<&str>(),
        Some(&"right side")
    );
    assert!(a_done.load(Ordering::SeqCst));
}

#[test]
fn when_both_sides_panic_the_panic_of_a_wins() {
    let pool = ThreadPool::new(2).unwrap();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.join(|| -> () { panic!("a") }, || -> () { panic!("b") })
    }));
    assert_eq!(result.unwrap_err().downcast_ref::<&str>(), Some(&"a"));
    // The pool still works afterwards, from inside a worker too.
    let handle = {
        let pool = Arc::new(ThreadPool::new(1).unwrap());
        let inner = pool.clone();
        pool.submit(move || {
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                inner.join(|| 1, || -> i32 { panic!("inner b") })
            }));
            (caught.is_err(), inner.join(|| 2, || 3))
        })
    };
    assert_eq!(handle.join().unwrap(), (true, (2, 3)));
}

#[test]
fn join_after_shutdown_runs_both_sides_on_the_caller() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown(Shutdown::Wait);
    let caller = thread::current().id();
    let (a, b) = pool.join(|| thread::current().id(), || thread::current().id());
    assert_eq!((a, b), (caller, caller));
    assert_eq!(fib(&pool, 10), 55);
}

#[test]
fn join_borrows_from_the_caller() {
    let pool = ThreadPool::new(2).unwrap();
    let mut left = vec![1, 2, 3];
    let mut right = vec![4, 5, 6];
    pool.join(
        || left.iter_mut().for_each(|x| *x += 10),
        || right.reverse(),
    );
    assert_eq!(left, [11, 12, 13]);
    assert_eq!(right, [6, 5, 4]);
}

/// Threads outside the pool block on it over and over, each time on a latch in a stack frame
/// that is gone (and overwritten) right after the wake-up: a setter that touched its latch after
/// releasing the waiter would read the scribbles, and a lost wake-up would hang the guard.
#[test]
fn many_outside_threads_block_on_short_lived_latches() {
    /// Fills the stack where the last latch lived with garbage.
    #[inline(never)]
    fn scribble() {
        let junk = std::hint::black_box([0xa5_u8; 4096]);
        std::hint::black_box(&junk);
    }

    let pool = Arc::new(ThreadPool::new(2).unwrap());
    within_guard(move || {
        let callers: Vec<_> = (0..8_u64)
            .map(|caller| {
                let pool = pool.clone();
                thread::spawn(move || {
                    for round in 0..2_000_u64 {
                        let (a, b) = pool.join(|| caller, || round);
                        assert_eq!((a, b), (caller, round));
                        scribble();
                        let spawned = AtomicUsize::new(0);
                        pool.scope(|s| {
                            s.spawn(|_| {
                                spawned.fetch_add(1, Ordering::Relaxed);
                            });
                        });
                        assert_eq!(spawned.into_inner(), 1);
                        scribble();
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
    });
}
