//! `join`'s heartbeat scheduling: second halves stay private to their worker until a heartbeat
//! (or the first `join` of a task) offers them, and the heartbeat sleeps with the pool.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use braid_threadpool::ThreadPool;
use common::{below_pending, wait_for, within_guard};

fn fib(pool: &ThreadPool, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = pool.join(|| fib(pool, n - 1), || fib(pool, n - 2));
    a + b
}

/// A lopsided tree: the left spine is `depth` deep, every right child a small balanced tree of
/// `bushy` levels, so pending halves of very different sizes pile up on one stack.
fn lopsided(pool: &ThreadPool, depth: u32, bushy: u32, leaves: &AtomicUsize) {
    if depth == 0 {
        leaves.fetch_add(1, Ordering::Relaxed);
        return;
    }
    pool.join(
        || lopsided(pool, depth - 1, bushy, leaves),
        || balanced(pool, bushy, leaves),
    );
}

fn balanced(pool: &ThreadPool, depth: u32, leaves: &AtomicUsize) {
    if depth == 0 {
        leaves.fetch_add(1, Ordering::Relaxed);
        return;
    }
    pool.join(
        || balanced(pool, depth - 1, leaves),
        || balanced(pool, depth - 1, leaves),
    );
}

/// Runs `f` inside a task on `pool` (so `join`s in it start on a worker), with the hang guard.
fn in_task<T: Send + 'static>(
    pool: &Arc<ThreadPool>,
    f: impl FnOnce(&ThreadPool) -> T + Send + 'static,
) -> T {
    let pool = pool.clone();
    within_guard(move || {
        let inner = pool.clone();
        pool.submit(move || f(&inner))
            .join()
            .unwrap_or_else(|error| panic::resume_unwind(error.into_panic()))
    })
}

/// Keeps `pool`'s worker calling `join` (on small work, so heartbeats get looked at) until
/// `flag` is set. Fails through the hang guard if it never is.
fn join_until(pool: &ThreadPool, flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        assert_eq!(fib(pool, 8), 21);
    }
}

#[test]
fn deep_recursion_gives_the_right_answers() {
    for workers in [1, 2, 3] {
        let pool = Arc::new(ThreadPool::new(workers).unwrap());
        let fib_pool = pool.clone();
        assert_eq!(within_guard(move || fib(&fib_pool, 25)), 75_025);
        assert_eq!(in_task(&pool, |pool| fib(pool, 25)), 75_025);

        let leaves = Arc::new(AtomicUsize::new(0));
        let (tree_pool, tree_leaves) = (pool.clone(), leaves.clone());
        within_guard(move || lopsided(&tree_pool, 200, 8, &tree_leaves));
        assert_eq!(leaves.load(Ordering::Relaxed), 1 + 200 * (1 << 8));
    }
}

/// The two halves of a `join` called from outside the pool each wait for the other at a
/// barrier: this finishes only if `b` runs on a second worker while `a` is blocked.
#[test]
fn the_halves_of_an_outside_join_run_in_parallel() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    within_guard(move || {
        for _ in 0..50 {
            let barrier = Barrier::new(2);
            pool.join(|| barrier.wait(), || barrier.wait());
        }
    });
}

/// The same inside submitted tasks and scope spawns: the first `join` of a task offers its
/// second half at once, even if the first half blocks before any heartbeat is looked at.
#[test]
fn the_halves_of_a_tasks_first_join_run_in_parallel() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    for _ in 0..50 {
        in_task(&pool, |pool| {
            let barrier = Barrier::new(2);
            pool.join(|| barrier.wait(), || barrier.wait());
        });
    }
    let scoped = pool.clone();
    within_guard(move || {
        for _ in 0..50 {
            scoped.scope(|s| {
                s.spawn(|_| {
                    let barrier = Barrier::new(2);
                    scoped.join(|| barrier.wait(), || barrier.wait());
                });
            });
        }
    });
}

/// A `join` that is not the first of its task: its second half stays private until a heartbeat
/// fires while the first half keeps calling `join`. The first half runs until the second half
/// has started, so this hangs (and fails through the guard) if no heartbeat ever promotes it.
/// The first half's loop runs below `levels` more pending halves; from three on, its `join`s
/// make no entries of their own, and a heartbeat must still offer the oldest.
fn promotion_while_the_first_half_keeps_joining(levels: u32) {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    for _ in 0..20 {
        in_task(&pool, move |pool| {
            // Uses up the task's first `join`.
            assert_eq!(pool.join(|| 1, || 2), (1, 2));
            let (a_started, b_started) = (AtomicBool::new(false), AtomicBool::new(false));
            pool.join(
                || {
                    below_pending(pool, levels, || {
                        a_started.store(true, Ordering::SeqCst);
                        join_until(pool, &b_started);
                    })
                },
                || {
                    b_started.store(true, Ordering::SeqCst);
                    join_until(pool, &a_started);
                },
            );
        });
    }
    assert!(pool.metrics().heartbeats() > 0);
}

#[test]
fn a_heartbeat_promotes_a_pending_half_while_the_first_half_keeps_joining() {
    promotion_while_the_first_half_keeps_joining(0);
}

#[test]
fn a_heartbeat_promotes_the_oldest_half_while_joins_below_it_run_as_plain_calls() {
    promotion_while_the_first_half_keeps_joining(3);
}

/// Panics in either half, both when the second half was never offered (it runs inline after
/// the first) and when it was taken by another worker: `join` waits for the other half, then
/// resumes the panic of `a` first.
#[test]
fn panics_in_either_half_wait_for_the_other_and_a_wins() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    // Inline: a later `join` of a task, whose second half nobody else sees; and the same below
    // four pending halves, where `join` makes no entry for it at all.
    for levels in [0, 4] {
        let outcomes = in_task(&pool, move |pool| {
            let _ = pool.join(|| (), || ());
            below_pending(pool, levels, || {
                let b_ran = AtomicBool::new(false);
                let a_panics = panic::catch_unwind(AssertUnwindSafe(|| {
                    pool.join(
                        || -> () { panic!("a") },
                        || b_ran.store(true, Ordering::SeqCst),
                    )
                }));
                let a_ran = AtomicBool::new(false);
                let b_panics = panic::catch_unwind(AssertUnwindSafe(|| {
                    pool.join(
                        || a_ran.store(true, Ordering::SeqCst),
                        || -> () { panic!("b") },
                    )
                }));
                let both_panic = panic::catch_unwind(AssertUnwindSafe(|| {
                    pool.join(|| -> () { panic!("a") }, || -> () { panic!("b") })
                }));
                let message = |payload: Box<dyn std::any::Any + Send>| {
                    payload.downcast_ref::<&str>().map(|s| s.to_string())
                };
                (
                    message(a_panics.unwrap_err()),
                    b_ran.load(Ordering::SeqCst),
                    message(b_panics.unwrap_err()),
                    a_ran.load(Ordering::SeqCst),
                    message(both_panic.unwrap_err()),
                    pool.join(|| 1, || 2),
                )
            })
        });
        let expected = (
            Some("a".to_string()),
            true,
            Some("b".to_string()),
            true,
            Some("a".to_string()),
            (1, 2),
        );
        assert_eq!(outcomes, expected, "below {levels} pending halves");
    }

    // Taken by another worker: `a` waits until `b` runs elsewhere, so `b` was offered and
    // taken; the panic must not reach the caller before the other half is done.
    for panicking in ["a", "b", "both"] {
        let pool = pool.clone();
        let payload = within_guard(move || {
            let (b_started, a_done, b_done) = (
                AtomicBool::new(false),
                AtomicBool::new(false),
                AtomicBool::new(false),
            );
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.join(
                    || {
                        wait_for(|| b_started.load(Ordering::SeqCst));
                        a_done.store(true, Ordering::SeqCst);
                        if panicking != "b" {
                            panic!("a");
                        }
                    },
                    || {
                        b_started.store(true, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(20));
                        b_done.store(true, Ordering::SeqCst);
                        if panicking != "a" {
                            panic!("b");
                        }
                    },
                )
            }));
            assert!(a_done.load(Ordering::SeqCst) && b_done.load(Ordering::SeqCst));
            result
                .unwrap_err()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
        });
        let winner = if panicking == "b" { "b" } else { "a" };
        assert_eq!(
            payload.as_deref(),
            Some(winner),
            "when {panicking} panicked"
        );
    }
    // The pool still works.
    assert_eq!(in_task(&pool, |pool| fib(pool, 15)), 610);
}

#[test]
fn join_nests_inside_scopes_and_submitted_tasks() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let scoped = pool.clone();
    let results = within_guard(move || {
        let mut results = [0_u64; 6];
        scoped.scope(|s| {
            for (n, result) in results.iter_mut().enumerate() {
                let pool = &scoped;
                s.spawn(move |_| *result = fib(pool, 15 + n as u32));
            }
        });
        results
    });
    assert_eq!(results, [610, 987, 1597, 2584, 4181, 6765]);

    let handles: Vec<_> = (0..6_u32)
        .map(|n| {
            let inner = pool.clone();
            pool.submit(move || fib(&inner, 15 + n))
        })
        .collect();
    let results: Vec<u64> = within_guard(move || {
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert_eq!(results, [610, 987, 1597, 2584, 4181, 6765]);

    // A scope inside a `join` inside a task, whose spawns join again.
    let total = in_task(&pool, |pool| {
        let (left, right) = pool.join(
            || {
                let sum = AtomicUsize::new(0);
                pool.scope(|s| {
                    for _ in 0..4 {
                        s.spawn(|_| {
                            sum.fetch_add(fib(pool, 12) as usize, Ordering::Relaxed);
                        });
                    }
                });
                sum.into_inner() as u64
            },
            || fib(pool, 18),
        );
        left + right
    });
    assert_eq!(total, 4 * 144 + 2584);
}

#[test]
fn join_from_outside_the_pool_and_after_shutdown() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let outside = pool.clone();
    assert_eq!(within_guard(move || fib(&outside, 20)), 6765);
    // Many threads outside the pool at once.
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || fib(&pool, 18))
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 2584);
    }
    pool.shutdown(braid_threadpool::Shutdown::Wait);
    let caller = thread::current().id();
    assert_eq!(
        pool.join(|| thread::current().id(), || thread::current().id()),
        (caller, caller)
    );
    assert_eq!(fib(&pool, 12), 144);
}

/// While the workers run long tasks that never call `join`, the heartbeat slows down instead of
/// ticking every 100 µs for nothing. It may tick less often than it asks for (a loaded machine
/// lets its sleeps overrun), never more often, so the bound below cannot be met by luck.
#[test]
fn the_heartbeat_slows_down_while_no_worker_joins() {
    let pool = ThreadPool::new(2).unwrap();
    let before = pool.metrics().heartbeats();
    let start = Instant::now();
    let spin = pool.submit(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            std::hint::spin_loop();
        }
    });
    within_guard(move || spin.join().unwrap());
    let elapsed = start.elapsed();
    let ticks = pool.metrics().heartbeats() - before;
    // Pauses double from 100 µs up to 2 ms: at most a handful of short ones, then one per 2 ms.
    let most = 10 + elapsed.as_millis() as u64 / 2;
    assert!(
        ticks <= most,
        "{ticks} heartbeats in {elapsed:?} of a task that never joins (at most {most} expected)"
    );
}

/// The heartbeat ticks while the pool works and stops once it is idle: the tick count stands
/// still. It would keep moving if the heartbeat thread never slept.
#[test]
fn an_idle_pools_heartbeat_stands_still() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let busy = pool.clone();
    within_guard(move || {
        while busy.metrics().heartbeats() == 0 {
            assert_eq!(fib(&busy, 16), 987);
        }
    });
    // Idle now: wait until the count stops, then make sure it stays stopped.
    let mut last = pool.metrics().heartbeats();
    wait_for(|| {
        thread::sleep(Duration::from_millis(50));
        let now = pool.metrics().heartbeats();
        std::mem::replace(&mut last, now) == now
    });
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        pool.metrics().heartbeats(),
        last,
        "the idle pool's heartbeat kept ticking"
    );

    // It starts again for new work.
    let busy = pool.clone();
    within_guard(move || {
        while busy.metrics().heartbeats() == last {
            assert_eq!(fib(&busy, 16), 987);
        }
    });

    // A pool of one worker has nobody to hand work to, and no heartbeat.
    let single = Arc::new(ThreadPool::new(1).unwrap());
    assert_eq!(in_task(&single, |pool| fib(pool, 20)), 6765);
    assert_eq!(single.metrics().heartbeats(), 0);
}
