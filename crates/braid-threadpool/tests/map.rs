//! `ThreadPool::map`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_threadpool::ThreadPool;
use common::Gate;

#[test]
fn map_yields_results_in_input_order_even_when_they_finish_out_of_order() {
    let pool = ThreadPool::new(4).unwrap();
    // Early items take longest, so they finish last.
    let results: Vec<u64> = pool
        .map(
            |i: u64| {
                thread::sleep(Duration::from_millis((20 - i) / 4));
                i * 10
            },
            0..20u64,
        )
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, (0..20).map(|i| i * 10).collect::<Vec<_>>());
}

#[test]
fn map_pulls_items_lazily_and_bounds_the_tasks_in_flight() {
    let pool = ThreadPool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let items = {
        let pulled = pulled.clone();
        (0..1000usize).inspect(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let results = pool.map(|i: usize| i * 2, items);
    let window = results.window();
    assert_eq!(window, 4, "twice the worker count");
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        window,
        "only one window is submitted up front"
    );
    let mut consumed = 0;
    for result in results {
        assert_eq!(result.unwrap(), consumed * 2, "input order");
        consumed += 1;
        // Every pulled item not yet consumed is a task in flight (or a result waiting).
        let pulled = pulled.load(Ordering::SeqCst);
        assert!(
            pulled <= consumed + window,
            "{pulled} pulled after {consumed} consumed"
        );
        assert!(pulled >= consumed.min(1000));
    }
    assert_eq!(consumed, 1000);
}

#[test]
fn map_reports_each_panic_at_its_position_and_keeps_going() {
    let pool = ThreadPool::new(2).unwrap();
    let results: Vec<_> = pool
        .map(
            |i: u32| {
                if i % 3 == 0 {
                    panic!("multiple of three");
                }
                i
            },
            0..9u32,
        )
        .collect();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(value) => assert_eq!(value as usize, i),
            Err(error) => {
                assert_eq!(i % 3, 0);
                assert!(error.is_panic());
            }
        }
    }
}

#[test]
fn dropping_a_map_cancels_what_has_not_started() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let blocker = {
        let gate = gate.clone();
        pool.submit(move || gate.wait())
    };
    let counter = ran.clone();
    let results = pool.map(
        move |_: u8| {
            counter.fetch_add(1, Ordering::SeqCst);
        },
        0..100u8,
    );
    drop(results);
    gate.open();
    blocker.join().unwrap();
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}
