//! Periodic timers: `interval`, `interval_at` and what happens to ticks the loop misses.
//!
//! The checks are on the instants the ticks were scheduled for, which the interval computes
//! from its start and period, never on how long anything took: a loaded machine can make a
//! tick late, not make it scheduled at another instant. To miss ticks on purpose, a test
//! blocks the loop's thread for several periods with `std::thread::sleep`.

use std::future::Future;
use std::time::{Duration, Instant};

use braid_executor::{interval, interval_at, run, spawn, EventLoop, Interval, MissedTickBehavior};
use futures::StreamExt;

const PERIOD: Duration = Duration::from_millis(20);

/// Runs `future` on a loop that does not report slow polls: these tests block it on purpose.
fn run_blocking<F: Future>(future: F) -> F::Output {
    EventLoop::builder()
        .slow_poll_threshold(Duration::MAX)
        .build()
        .expect("an event loop starts")
        .block_on(future)
}

#[test]
fn the_first_tick_is_the_start_and_the_next_are_a_period_apart() {
    run(async {
        let before = Instant::now();
        let mut ticks = interval(PERIOD);
        let first = ticks.tick().await;
        assert!(
            first >= before,
            "the first tick is scheduled when the interval is made"
        );
        assert!(first <= Instant::now());
        let mut previous = first;
        for n in 1..5u32 {
            let tick = ticks.tick().await;
            assert_eq!(tick, first + PERIOD * n, "tick {n}");
            assert!(Instant::now() >= tick, "tick {n} came before its instant");
            assert!(tick > previous);
            previous = tick;
        }
    });
}

#[test]
fn interval_at_starts_at_its_start() {
    run(async {
        let start = Instant::now() + PERIOD;
        let mut ticks = interval_at(start, PERIOD);
        assert_eq!(ticks.tick().await, start);
        assert!(
            Instant::now() >= start,
            "the first tick waited for the start"
        );
        assert_eq!(ticks.tick().await, start + PERIOD);
    });
}

#[test]
fn burst_is_the_default_and_hands_out_every_missed_tick_at_its_own_instant() {
    run_blocking(async {
        let mut ticks = interval(PERIOD);
        assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
        let start = ticks.tick().await;
        std::thread::sleep(PERIOD * 5);
        let woke = Instant::now();
        // Ticks 1 to 5 were all due while the thread slept: they come back to back, each
        // with the instant it was scheduled for.
        for n in 1..=5u32 {
            let tick = ticks.tick().await;
            assert_eq!(tick, start + PERIOD * n);
            assert!(tick <= woke, "tick {n} was due during the block");
        }
        // Then the grid goes on from the start, as if nothing had happened.
        assert_eq!(ticks.tick().await, start + PERIOD * 6);
    });
}

#[test]
fn delay_schedules_the_next_tick_a_period_after_the_late_one_was_taken() {
    run_blocking(async {
        let mut ticks = interval(PERIOD);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Delay);
        let start = ticks.tick().await;
        std::thread::sleep(PERIOD * 5);
        let woke = Instant::now();
        // The late tick itself still says when it was due.
        let late = ticks.tick().await;
        assert_eq!(late, start + PERIOD);
        // It was taken after `woke`, so the next one is at least a period after that,
        // not on the old grid.
        let next = ticks.tick().await;
        assert!(
            next >= woke + PERIOD,
            "{next:?} is not a period after {woke:?}"
        );
        let after = ticks.tick().await;
        assert!(after >= next + PERIOD);
    });
}

#[test]
fn skip_lands_the_next_tick_on_the_grid_after_the_block() {
    run_blocking(async {
        let mut ticks = interval(PERIOD);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let start = ticks.tick().await;
        std::thread::sleep(PERIOD * 5);
        let woke = Instant::now();
        assert_eq!(ticks.tick().await, start + PERIOD);
        // Ticks 2..=5 are skipped: the next is the first multiple of the period from the
        // start that is still ahead when the late tick was taken.
        let next = ticks.tick().await;
        let since_start = next - start;
        assert!(next > woke, "{next:?} was a skipped tick");
        assert_eq!(
            since_start.as_nanos() % PERIOD.as_nanos(),
            0,
            "{since_start:?} is not a multiple of {PERIOD:?}"
        );
        assert!(since_start >= PERIOD * 6);
    });
}

#[test]
fn reset_moves_the_next_tick_a_period_from_now() {
    run_blocking(async {
        let mut ticks = interval(PERIOD);
        let start = ticks.tick().await;
        std::thread::sleep(PERIOD * 3);
        let before_reset = Instant::now();
        ticks.reset();
        let next = ticks.tick().await;
        assert!(next >= before_reset + PERIOD);
        assert!(next > start + PERIOD * 3, "the missed ticks were dropped");
        assert_eq!(ticks.period(), PERIOD);
    });
}

#[test]
fn it_is_a_stream_of_instants() {
    run(async {
        let ticks: Vec<Instant> = interval(PERIOD).take(4).collect().await;
        assert_eq!(ticks.len(), 4);
        for pair in ticks.windows(2) {
            assert_eq!(pair[1] - pair[0], PERIOD);
        }
    });
}

#[test]
fn intervals_in_several_tasks_tick_independently() {
    run(async {
        let tasks: Vec<_> = (1..=3u32)
            .map(|k| {
                spawn(async move {
                    let mut ticks = interval(PERIOD * k);
                    let first = ticks.tick().await;
                    let mut count = 1;
                    while ticks.tick().await < first + PERIOD * 6 {
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let mut counts = Vec::new();
        for task in tasks {
            counts.push(task.await.unwrap());
        }
        // Within six short periods: ticks at 0..6, at 0,2,4 and at 0,3.
        assert_eq!(counts, vec![6, 3, 2]);
    });
}

#[test]
fn poll_tick_is_pending_until_the_tick_is_due() {
    run(async {
        let mut ticks = interval_at(Instant::now() + Duration::from_secs(3600), PERIOD);
        let pending =
            futures::future::poll_fn(|cx| std::task::Poll::Ready(ticks.poll_tick(cx).is_pending()))
                .await;
        assert!(pending);
    });
}

#[test]
#[should_panic(expected = "period must be greater than zero")]
fn a_zero_period_panics() {
    let _: Interval = interval(Duration::ZERO);
}

#[test]
#[should_panic(expected = "period must be greater than zero")]
fn a_zero_period_panics_in_interval_at_too() {
    let _ = interval_at(Instant::now(), Duration::ZERO);
}

#[test]
fn a_dropped_tick_future_uses_up_no_tick() {
    run(async {
        let start = Instant::now() + PERIOD * 10;
        let mut ticks = interval_at(start, PERIOD);
        // Poll a tick future once, then drop it.
        let polled = {
            let mut tick = std::pin::pin!(ticks.tick());
            futures::future::poll_fn(|cx| std::task::Poll::Ready(tick.as_mut().poll(cx))).await
        };
        match polled {
            // The usual case: it was not due, and the dropped wait used up nothing.
            std::task::Poll::Pending => assert_eq!(ticks.tick().await, start),
            // Only if this thread stalled for ten periods before the poll.
            std::task::Poll::Ready(first) => assert_eq!(first, start),
        }
    });
}

#[test]
fn an_interval_is_send_and_unpin() {
    fn send_and_unpin<T: Send + Unpin>() {}
    send_and_unpin::<Interval>();
}

#[test]
fn skip_with_a_period_longer_than_u64_nanoseconds_does_not_panic() {
    const YEAR: u64 = 86_400 * 365;
    braid_executor::run(async {
        // The first tick is taken more than a period late, so Skip places the next one on
        // the grid ahead (start + 2 periods, 1,400 years from now); the remainder it
        // computes is 600 years, past what u64 nanoseconds hold (about 584 years).
        let Some(start) = Instant::now().checked_sub(Duration::from_secs(2_600 * YEAR)) else {
            panic!("this platform's Instant cannot go 2,600 years back; the test needs it");
        };
        let period = Duration::from_secs(2_000 * YEAR);
        let mut ticks = interval_at(start, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(ticks.tick().await, start);
        // The skipped-to tick is far ahead: not ready now.
        let next = std::pin::pin!(ticks.tick());
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(next.poll(&mut cx).is_pending());
    });
}
