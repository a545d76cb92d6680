//! Scoped tasks with `ThreadPool::scope`.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use braid_threadpool::{Scope, Shutdown, ThreadPool};
use common::within_guard;

#[test]
fn spawned_tasks_borrow_and_mutate_the_callers_data() {
    let pool = ThreadPool::new(2).unwrap();
    let mut data: Vec<u64> = (0..1000).collect();
    let factor = 3;
    pool.scope(|s| {
        for chunk in data.chunks_mut(100) {
            s.spawn(move |_| chunk.iter_mut().for_each(|x| *x *= factor));
        }
    });
    assert_eq!(data, (0..1000).map(|x| x * 3).collect::<Vec<u64>>());
}

#[test]
fn scope_returns_only_after_every_task_finished() {
    let pool = ThreadPool::new(2).unwrap();
    let finished = AtomicUsize::new(0);
    let value = pool.scope(|s| {
        for _ in 0..8 {
            s.spawn(|_| {
                thread::sleep(Duration::from_millis(5));
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        "body result"
    });
    assert_eq!(value, "body result");
    assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn tasks_spawn_more_tasks_recursively() {
    fn split<'s>(s: &Scope<'s>, range: std::ops::Range<u64>, sum: &'s AtomicUsize) {
        if range.end - range.start <= 16 {
            sum.fetch_add(range.sum::<u64>() as usize, Ordering::Relaxed);
            return;
        }
        let mid = (range.start + range.end) / 2;
        let (low, high) = (range.start..mid, mid..range.end);
        s.spawn(move |s| split(s, low, sum));
        s.spawn(move |s| split(s, high, sum));
    }
    let pool = ThreadPool::new(2).unwrap();
    let sum = AtomicUsize::new(0);
    pool.scope(|s| split(s, 0..10_000, &sum));
    assert_eq!(
        sum.load(Ordering::Relaxed),
        (0..10_000u64).sum::<u64>() as usize
    );
}

#[test]
fn a_panicking_task_propagates_after_the_others_finished() {
    let pool = ThreadPool::new(2).unwrap();
    let others = AtomicUsize::new(0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| panic!("scoped boom"));
            for _ in 0..4 {
                s.spawn(|_| {
                    thread::sleep(Duration::from_millis(10));
                    others.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    assert_eq!(
        result.unwrap_err().downcast_ref::<&str>(),
        Some(&"scoped boom")
    );
    assert_eq!(others.load(Ordering::SeqCst), 4);
    // Workers survived.
    assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
}

#[test]
fn a_panicking_body_waits_for_its_tasks_then_propagates() {
    let pool = ThreadPool::new(2).unwrap();
    let task_done = AtomicBool::new(false);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| {
                thread::sleep(Duration::from_millis(20));
                task_done.store(true, Ordering::SeqCst);
            });
            panic!("body boom");
        })
    }));
    assert_eq!(
        result.unwrap_err().downcast_ref::<&str>(),
        Some(&"body boom")
    );
    assert!(task_done.load(Ordering::SeqCst));
}

#[test]
fn scope_inside_a_task_of_a_one_worker_pool() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner = pool.clone();
    let handle = pool.submit(move || {
        let log = Mutex::new(Vec::new());
        inner.scope(|s| {
            for i in 0..10 {
                let log = &log;
                s.spawn(move |_| log.lock().unwrap().push(i));
            }
        });
        let mut log = log.into_inner().unwrap();
        log.sort();
        log
    });
    let log = within_guard(move || handle.join().unwrap());
    assert_eq!(log, (0..10).collect::<Vec<_>>());
}

#[test]
fn scope_after_shutdown_runs_tasks_on_the_spot() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown(Shutdown::CancelPending);
    let caller = thread::current().id();
    let ran_on = Mutex::new(Vec::new());
    pool.scope(|s| {
        s.spawn(|_| ran_on.lock().unwrap().push(thread::current().id()));
        s.spawn(|_| ran_on.lock().unwrap().push(thread::current().id()));
    });
    assert_eq!(*ran_on.lock().unwrap(), [caller, caller]);
}

#[test]
fn scope_and_join_mix() {
    let pool = ThreadPool::new(2).unwrap();
    let total = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..4 {
            s.spawn(|_| {
                let (a, b) = pool.join(|| 1, || 2);
                total.fetch_add(a + b, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 12);
}
