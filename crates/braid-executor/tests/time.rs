//! Sleeps and timeouts.

mod common;

use std::time::{Duration, Instant};

use braid_executor::{run, sleep, sleep_until, spawn, EventLoop};
use common::within;

#[test]
fn a_sleep_never_ends_early() {
    run(async {
        for millis in [0u64, 1, 2, 3, 5, 8, 13, 21] {
            let requested = Duration::from_millis(millis);
            let start = Instant::now();
            sleep(requested).await;
            let elapsed = start.elapsed();
            assert!(elapsed >= requested, "slept {elapsed:?} for {requested:?}");
        }
        let deadline = Instant::now() + Duration::from_micros(1500);
        sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn concurrent_sleeps_all_wake_and_none_early() {
    run(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                spawn(async move {
                    let requested = Duration::from_micros(100 * (i % 37));
                    let begun = Instant::now();
                    sleep(requested).await;
                    begun.elapsed() >= requested
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        assert!(start.elapsed() >= Duration::from_micros(3600));
    });
}

#[test]
fn a_hundred_thousand_concurrent_sleeps() {
    within(Duration::from_secs(60), || {
        let event_loop = EventLoop::new().unwrap();
        let on_time = event_loop.block_on(async {
            let tasks: Vec<_> = (0..100_000u64)
                .map(|i| {
                    spawn(async move {
                        let requested = Duration::from_millis(1 + i % 10);
                        let begun = Instant::now();
                        sleep(requested).await;
                        begun.elapsed() >= requested
                    })
                })
                .collect();
            let mut on_time = 0;
            for task in tasks {
                on_time += usize::from(task.await.unwrap());
            }
            on_time
        });
        assert_eq!(on_time, 100_000, "every sleep ended, none early");
        let metrics = event_loop.metrics();
        assert!(metrics.timers_fired <= 100_000);
        assert_eq!(metrics.tasks_alive, 0);
    });
}

#[test]
fn cancelled_sleeps_do_not_fire() {
    let event_loop = EventLoop::new().unwrap();
    event_loop.block_on(async {
        for _ in 0..10_000 {
            let _ = braid_executor::timeout(Duration::ZERO, sleep(Duration::from_secs(3600))).await;
        }
        sleep(Duration::from_millis(1)).await;
    });
    // Only the final sleep fired (plus possibly none of the zero timeouts, which complete
    // without a timer): the 10,000 hour-long ones were removed when dropped.
    assert!(event_loop.metrics().timers_fired <= 1);
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn sleep_outside_a_loop_panics() {
    futures::executor::block_on(sleep(Duration::from_millis(1)));
}
