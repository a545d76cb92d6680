//! A periodic timer: [`interval`] and [`interval_at`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;

use super::{far_or, sleep_until, Sleep};

/// Ticks every `period`, the first tick at once (Python: a loop of `asyncio.sleep` that
/// keeps to a schedule instead of drifting).
///
/// The ticks are scheduled at the instant `interval` is called, then one `period` apart.
/// Each [`tick`](Interval::tick) waits for the next scheduled instant and returns it, so the
/// schedule does not slip by however long the work between ticks takes, as long as that work
/// is shorter than a period. When it is longer, the interval's [`MissedTickBehavior`] says
/// what comes next.
///
/// # Panics
///
/// If `period` is zero. Awaiting a tick outside a running braid event loop panics too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// braid_executor::run(async {
///     let mut ticks = braid_executor::interval(Duration::from_millis(2));
///     let first = ticks.tick().await; // at once
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start` (at once if `start` has passed).
///
/// # Panics
///
/// If `period` is zero. Awaiting a tick outside a running braid event loop panics too.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// braid_executor::run(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut ticks = braid_executor::interval_at(start, Duration::from_millis(2));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(2));
/// });
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "braid_executor::interval: the period must be greater than zero"
    );
    Interval {
        next: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when a tick is taken so late that the next one is already due:
/// the loop was busy, or the task did more than a period's work between two ticks.
///
/// Take ticks scheduled every 10 ms from `0`, the one at 10 ms taken at 35 ms. The ticks
/// that follow are scheduled at:
///
/// | behaviour | next ticks | for |
/// | --- | --- | --- |
/// | [`Burst`](Self::Burst) (default) | 20, 30 (both at once), then 40, 50, ... | a count of ticks that must come out right: every tick is handed out |
/// | [`Delay`](Self::Delay) | 45, 55, 65, ... | work that needs a full period of rest between runs |
/// | [`Skip`](Self::Skip) | 40, 50, 60, ... | keeping to the original grid, dropping what was missed |
///
/// A tick is late in this sense only when the next one is due by the time it is taken:
/// one taken a little after its instant, but before the next, leaves the schedule alone
/// whatever the behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MissedTickBehavior {
    /// Hands out every missed tick at once, each with the instant it was scheduled for,
    /// until the interval has caught up with its schedule.
    #[default]
    Burst,
    /// Starts the schedule afresh: the next tick is one period after the late tick was
    /// taken.
    Delay,
    /// Drops the missed ticks: the next tick is the first one on the original schedule
    /// (the start plus a whole number of periods) that is still ahead.
    Skip,
}

impl MissedTickBehavior {
    /// When the tick after one scheduled at `due` but taken at `now` is scheduled, given
    /// that `now` is at or past the tick after `due`.
    fn next_after_late(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => far_or(due.checked_add(period)),
            MissedTickBehavior::Delay => far_or(now.checked_add(period)),
            MissedTickBehavior::Skip => {
                // `now` is at least a period past `due`, so the remainder is below `period`,
                // a `Duration`, and is one again once split into seconds and nanoseconds
                // (u64 nanoseconds would end at about 584 years).
                let into_period = (now - due).as_nanos() % period.as_nanos();
                let seconds = u64::try_from(into_period / 1_000_000_000)
                    .expect("a remainder below a Duration has whole seconds that fit in u64");
                let nanos = (into_period % 1_000_000_000) as u32;
                let into_period = Duration::new(seconds, nanos);
                far_or(now.checked_add(period - into_period))
            }
        }
    }
}

/// A timer that ticks on a schedule, made by [`interval`] or [`interval_at`].
///
/// Await [`tick`](Interval::tick) for each tick, or use it as a
/// [`Stream`](futures::Stream) of the ticks' scheduled instants (it never ends). Like a
/// [`Sleep`], it belongs to the loop that first waits on it; it is `Send` and `Unpin`.
#[must_use = "an interval does nothing unless its ticks are awaited"]
pub struct Interval {
    /// Waits for the next scheduled tick; its deadline is that tick's instant.
    next: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for (at or before
    /// now, never after).
    ///
    /// Cancel-safe: if the returned future is dropped before it completes, no tick is used
    /// up, and the next call waits for the same tick.
    ///
    /// # Panics
    ///
    /// When awaited outside a running braid event loop, or on another loop than the one it
    /// first waited on.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick: `Ready` with its scheduled instant when it is due, else
    /// `Pending`, and `cx`'s waker is woken when it is.
    ///
    /// # Panics
    ///
    /// As [`tick`](Interval::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.next).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let due = self.next.deadline();
        let on_time = far_or(due.checked_add(self.period));
        let now = Instant::now();
        let next = if now >= on_time {
            self.missed_tick_behavior
                .next_after_late(due, now, self.period)
        } else {
            on_time
        };
        self.next.reset(next);
        Poll::Ready(due)
    }

    /// Starts the schedule afresh from now: the next tick is one period from now, and ticks
    /// that were due are dropped.
    pub fn reset(&mut self) {
        self.next
            .reset(far_or(Instant::now().checked_add(self.period)));
    }

    /// The time between two ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does about missed ticks; [`MissedTickBehavior::Burst`] unless
    /// [set](Interval::set_missed_tick_behavior).
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what the interval does about missed ticks from the next tick on.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next_tick", &self.next.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}
