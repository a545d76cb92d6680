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

/// Polls `sleep` once with a waker that does nothing.
fn poll_once(sleep: &mut braid_executor::Sleep) -> std::task::Poll<()> {
    use std::future::Future;
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    std::pin::Pin::new(sleep).poll(&mut cx)
}

/// The panic message of `panic`, whichever string type it carries.
fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_sleep_whose_loop_is_gone_panics_on_the_next_loop_and_leaves_its_timers_alone() {
    within(Duration::from_secs(60), || {
        let mut stale = sleep(Duration::from_secs(3600));
        let first = EventLoop::new().unwrap();
        first.block_on(async { assert!(poll_once(&mut stale).is_pending()) });
        drop(first);

        // The second loop may well sit where the first one was, and its first timer in
        // the slot the stale key names.
        let second = EventLoop::new().unwrap();
        second.block_on(async {
            let own = spawn(async {
                let requested = Duration::from_millis(20);
                let begun = Instant::now();
                sleep(requested).await;
                begun.elapsed() >= requested
            });
            braid_executor::yield_now().await;
            let panic =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut stale)))
                    .expect_err("polling a sleep of a loop that is gone must panic");
            let message = message(&*panic);
            assert!(
                message.contains("another event loop") && message.contains("may be gone"),
                "unclear panic: {message}"
            );
            drop(stale);
            // The second loop's timers are untouched: its own sleep ends, and not early.
            assert!(own.await.unwrap(), "the loop's own sleep ended early");
            let begun = Instant::now();
            sleep(Duration::from_millis(5)).await;
            assert!(begun.elapsed() >= Duration::from_millis(5));
        });
    });
}

#[test]
fn a_sleep_registered_with_one_running_loop_panics_on_another() {
    within(Duration::from_secs(60), || {
        let mut moved = sleep(Duration::from_secs(3600));
        let first = EventLoop::new().unwrap();
        let second = EventLoop::new().unwrap();
        first.block_on(async { assert!(poll_once(&mut moved).is_pending()) });
        second.block_on(async {
            let panic =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut moved)))
                    .expect_err("polling a sleep on another loop must panic");
            assert!(message(&*panic).contains("another event loop"));
        });
        // Back on its own loop it still works, and a reset one may go anywhere.
        first.block_on(async { assert!(poll_once(&mut moved).is_pending()) });
        moved.reset(Instant::now());
        second.block_on(async { assert!(poll_once(&mut moved).is_ready()) });
    });
}
