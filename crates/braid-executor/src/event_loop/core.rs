//! The loop-thread side of an event loop: run queue, live tasks, the driver, and one turn.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use braid_poller::Poller;

use super::metrics::Metrics;
use super::run_queue::RunQueue;
use super::shared::Shared;
use super::slow_poll::{self, Polled};
use crate::blocking::BlockingPool;
use crate::driver::{Driver, IoKey};
use crate::task::{self, JoinError, LiveTasks, PollEnd, Running, Task, TaskDump, TaskRef};

/// How many tasks the loop polls before it looks at the poller and the timers again, so that
/// tasks that keep waking themselves cannot starve I/O and timers.
pub(crate) const POLLS_PER_TURN: usize = 61;

/// The loop's state that only its own thread touches.
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    /// The loop's poller. `shared` holds it too, for wakes from other threads, until the
    /// loop ends; from then on only this keeps its descriptors open, for as long as the
    /// `Core` lives (sockets keep only `shared`).
    pub(crate) poller: Arc<Poller>,
    queue: RunQueue,
    /// Every task whose future is still alive and that the loop has seen.
    live: LiveTasks,
    /// Registered descriptors and timers: what the loop waits on.
    driver: Driver,
    counters: Counters,
    slow_poll_threshold: Duration,
    /// The same in nanoseconds, as each task's poll is compared with it.
    slow_poll_nanos: u64,
    /// Polls that took at least this long need more than the usual bookkeeping: 1 (any time
    /// on the clock at all), or 0 if every poll is slow.
    timed_from: u64,
    blocking_pool: Arc<BlockingPool>,
    /// Yield the core once before sleeping in the poller.
    yield_before_sleep: bool,
    /// When the loop yields again, after wasted yields (`YieldBackOff`).
    yield_back_off: YieldBackOff,
    /// The clock as the last poll left it, for the next poll of `block_on`'s loop to start
    /// from instead of reading it again; `NO_CLOCK` where time may have passed since (the
    /// loop slept in the poller, or `block_on` returned). A plain number rather than an
    /// `Option`: it is taken and set on every turn and every poll of the main future.
    carried_clock: Cell<u64>,
}

/// `Core::carried_clock` when there is no clock to carry. A reading of exactly 0 is then
/// not carried either, which only costs the next poll a read of its own.
const NO_CLOCK: u64 = 0;

/// Yields before sleeping that last at least this long are counted as slow: they gave the
/// core to a thread that does not block for a whole scheduler slice (a millisecond or
/// more), where a yield that only lets the loop's feeders run comes back in tens of
/// microseconds.
const SLOW_YIELD: Duration = Duration::from_micros(250);

/// How a loop that yields before sleeping stops yielding while its yields are wasted.
///
/// A yield is wasted when it was slow (`SLOW_YIELD`) and brought at most one event: the core
/// went to a thread that does not feed this loop (a CPU-bound thread on the same core), for
/// a whole scheduler slice, while the loop's next event waited; sleeping in the poller
/// would have let that event wake the loop at once. A slow yield that brings a batch of
/// events let the loop's feeders run, which is what yielding is for. After a wasted yield
/// the loop sleeps without yielding for `held_back` parks, a number that doubles with each
/// further wasted yield (from `MIN_HOLD_BACK` up to `MAX_HOLD_BACK`) and halves after
/// `HOLD_BACK_EASES_AFTER` yields in a row that were not wasted. Behind a CPU-bound
/// neighbour the loop thus pays a slice once every thousand sleeps or so, instead of at
/// every one.
#[derive(Debug, Default)]
struct YieldBackOff {
    /// Parks left before the loop yields again.
    skip: Cell<u32>,
    /// Parks to skip after the next wasted yield, halved: 0 until a yield was wasted.
    held_back: Cell<u32>,
    /// Yields in a row that were not wasted, since the last wasted one or easing.
    unwasted: Cell<u32>,
}

const MIN_HOLD_BACK: u32 = 8;
const MAX_HOLD_BACK: u32 = 1024;
const HOLD_BACK_EASES_AFTER: u32 = 16;

impl YieldBackOff {
    /// Whether the loop yields at this park; counts a park held back otherwise.
    #[inline]
    fn may_yield(&self) -> bool {
        let skip = self.skip.get();
        if skip == 0 {
            return true;
        }
        self.skip.set(skip - 1);
        false
    }

    /// Takes in how a yield went: whether it was wasted.
    fn record(&self, wasted: bool) {
        if wasted {
            let held_back = (self.held_back.get() * 2).clamp(MIN_HOLD_BACK, MAX_HOLD_BACK);
            self.held_back.set(held_back);
            self.skip.set(held_back);
            self.unwasted.set(0);
        } else if self.held_back.get() > 0 {
            let unwasted = self.unwasted.get() + 1;
            if unwasted >= HOLD_BACK_EASES_AFTER {
                self.held_back.set(self.held_back.get() / 2);
                self.unwasted.set(0);
            } else {
                self.unwasted.set(unwasted);
            }
        }
    }
}

/// A loop does not yield when its next timer is due within this: a slow yield would make
/// the timer late by up to a whole scheduler slice.
const TIMER_MARGIN: Duration = Duration::from_millis(1);

/// Whether a loop told to yield before sleeping yields at `now`, with its next timer due
/// at `next`.
fn may_yield(now: Instant, next: Option<Instant>) -> bool {
    !next.is_some_and(|deadline| deadline <= now + TIMER_MARGIN)
}

#[derive(Default)]
struct Counters {
    spawned: Cell<u64>,
    polls: Cell<u64>,
    io_events: Cell<u64>,
    timers_fired: Cell<u64>,
    slow_polls: Cell<u64>,
    blocking_jobs: Cell<u64>,
    yields: Cell<u64>,
    slow_yields: Cell<u64>,
    yields_held_back: Cell<u64>,
}

fn bump(counter: &Cell<u64>, by: u64) {
    counter.set(counter.get().wrapping_add(by));
}

impl Core {
    pub(crate) fn new(
        poller: Arc<Poller>,
        slow_poll_threshold: Duration,
        blocking_pool: Arc<BlockingPool>,
        yield_before_sleep: bool,
    ) -> Core {
        let slow_poll_nanos = u64::try_from(slow_poll_threshold.as_nanos()).unwrap_or(u64::MAX);
        Core {
            shared: Arc::new(Shared::new(poller.clone())),
            poller,
            queue: RunQueue::with_capacity(256),
            live: LiveTasks::with_capacity(256),
            driver: Driver::new(),
            counters: Counters::default(),
            slow_poll_threshold,
            slow_poll_nanos,
            timed_from: slow_poll_nanos.min(1),
            blocking_pool,
            yield_before_sleep,
            yield_back_off: YieldBackOff::default(),
            carried_clock: Cell::new(NO_CLOCK),
        }
    }

    /// Takes the carried clock, if any.
    #[inline]
    fn take_clock(&self) -> Option<u64> {
        let now = self.carried_clock.replace(NO_CLOCK);
        (now != NO_CLOCK).then_some(now)
    }

    /// Forgets the carried clock: `block_on` starts with a fresh reading.
    pub(crate) fn forget_clock(&self) {
        self.carried_clock.set(NO_CLOCK);
    }

    /// The loop's descriptors and timers, for the sockets and sleeps of its tasks.
    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    pub(crate) fn push_local(&self, task: TaskRef) {
        self.queue.push_back(task);
    }

    /// Spawns `future` on this loop; it runs when the loop next turns.
    pub(crate) fn spawn<F, T>(&self, future: F, location: &'static Location<'static>) -> Task<T>
    where
        F: Future<Output = Result<T, JoinError>> + 'static,
        T: 'static,
    {
        let (task, queued) = task::spawn(future, self.shared.clone(), location);
        // SAFETY: a fresh task of this loop, on its thread.
        let _ = unsafe { self.live.link(&queued) };
        bump(&self.counters.spawned, 1);
        self.push_local(queued);
        task
    }

    /// Polls one task taken from the run queue. `clock` is when the previous poll ended (or
    /// the turn began), and is advanced to when this poll ended, so that timing each poll
    /// costs one clock read.
    fn run_task(&self, task: TaskRef, clock: &mut TurnClock) {
        // SAFETY: `Core` lives on its loop's thread, and its run queue holds only its own
        // tasks (`Shared::schedule` and `spawn` queue there).
        let Some(mut running) = (unsafe { task.start(&self.live) }) else {
            return;
        };
        // SAFETY: as above; a running task has not finished.
        if unsafe { self.live.link(running.task()) } {
            // Spawned through a `Handle`: first seen here.
            bump(&self.counters.spawned, 1);
        }
        bump(&self.counters.polls, 1);
        let header = running.task().header();
        // Its start time is `clock.now`, given to `now_polling` when the clock last moved.
        self.shared
            .now_polling
            .start(header.stats.id(), header.location);
        let polled = running.poll();
        let now = poll_clock();
        let took = now.saturating_sub(clock.now);
        // The coarse clock rarely moves during one poll: then there is no time to add, the
        // poll is not slow (unless the threshold is 0), and the clock is where it was.
        if took >= self.timed_from {
            self.timed_poll(&running, took, now, clock);
        }
        // `now_polling` is cleared once the turn's polls are done (`turn`), not after each.
        running.task().header().stats.poll_ended(clock.end);
        if polled.is_ready() {
            running.complete(&self.live);
        } else if let Some(task) = running.park() {
            // Woken (or cancelled) while it ran: it goes to the back of the queue with the
            // reference it came with.
            self.push_local(task);
        }
    }

    /// The rest of a task's poll bookkeeping, for a poll that took `took` nanoseconds and
    /// ended at `now` (or with a slow-poll threshold of 0): its poll time, the clock moved on
    /// (the next poll starts at `now`), and the slow-poll check.
    #[inline]
    fn timed_poll(&self, running: &Running, took: u64, now: u64, clock: &mut TurnClock) {
        let header = running.task().header();
        header.stats.add_busy(took);
        clock.set(now);
        self.shared.now_polling.set_started(now);
        if took >= self.slow_poll_nanos {
            self.slow_poll(Polled::Task(header.location), Duration::from_nanos(took));
        }
    }

    /// Polls the future given to `block_on`, timed like a task's poll; `location` is where
    /// `block_on` (or `run`) was called.
    ///
    /// Inlined into `block_on`'s loop, its one caller, where the main future's poll was
    /// before it was timed: a call of its own costs a frame (saved registers, spills) on
    /// every poll of the main future.
    #[inline]
    pub(crate) fn poll_main<F: Future>(
        &self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
        location: &'static Location<'static>,
    ) -> Poll<F::Output> {
        // Where the turn before did not sleep, the clock it ended with is as good as a new
        // reading (the coarse clock moves every few milliseconds): one read per poll.
        let start = self.take_clock().unwrap_or_else(poll_clock);
        self.shared.now_polling.set_started(start);
        self.shared.now_polling.start(0, location);
        let polled = future.poll(cx);
        self.shared.now_polling.end();
        let end = poll_clock();
        if polled.is_pending() {
            // The next turn starts right away.
            self.carried_clock.set(end);
        }
        let took = end.saturating_sub(start);
        if took >= self.slow_poll_nanos {
            self.slow_poll(Polled::Main(location), Duration::from_nanos(took));
        }
        polled
    }

    #[cold]
    fn slow_poll(&self, polled: Polled, took: Duration) {
        bump(&self.counters.slow_polls, 1);
        slow_poll::report(polled, took, self.slow_poll_threshold);
    }

    /// One turn: polls up to [`POLLS_PER_TURN`] tasks, then takes remote wakes, I/O events
    /// and expired timers. Blocks in the poller only when nothing is ready.
    pub(crate) fn turn(&self) {
        let mut clock = match self.take_clock() {
            Some(now) => TurnClock::at(now),
            None => TurnClock::read(),
        };
        self.shared.now_polling.set_started(clock.now);
        let mut taken = 0;
        while taken < POLLS_PER_TURN {
            let task = self.queue.pop_front();
            let Some(task) = task else { break };
            taken += 1;
            self.run_task(task, &mut clock);
        }
        if taken > 0 {
            // Once per turn rather than after each poll: between two polls of a turn the loop
            // only queues, so a reader from another thread sees the last poll for that long.
            self.shared.now_polling.end();
        }
        self.queue.take_remote(&self.shared);
        // The next poll may start on this turn's clock only if the rest of the turn takes
        // no time worth counting: no sleep, no events to hand out, no descriptors to close,
        // no timers fired, no dump made. Otherwise that time would be billed to the next
        // poll.
        let mut quiet = true;
        if self.has_work() {
            // With no socket registered there is nothing to look for: skip the system call.
            // Remote wakes are seen through `remote_pending` either way.
            if self.driver.has_io() {
                quiet = self.poll_io(Some(Duration::ZERO)) == 0;
            }
        } else {
            self.park();
            quiet = false;
        }
        quiet &= !self.close_released();
        quiet &= self.fire_timers() == 0;
        if self.shared.dump_requested() {
            self.answer_dumps();
            quiet = false;
        }
        if quiet {
            self.carried_clock.set(clock.now);
        }
    }

    /// Sends a dump to every thread that asked through a [`Handle`](super::Handle).
    #[cold]
    fn answer_dumps(&self) {
        let dump = self.tasks();
        for answer in self.shared.take_dump_requests() {
            // The asker may have given up waiting; nothing to do then.
            let _ = answer.send(dump.clone());
        }
    }

    /// What every live task is doing now.
    pub(crate) fn tasks(&self) -> TaskDump {
        self.live
            .dump(poll_clock(), self.shared.now_polling.started_here())
    }

    /// Whether a task is queued, or a wake from another thread is waiting to be taken.
    fn has_work(&self) -> bool {
        !self.queue.is_empty()
            || self.shared.main_woken.load(Ordering::Acquire)
            || self.shared.has_remote()
    }

    /// Waits in the poller for I/O, a wake from another thread or the next timer.
    ///
    /// With [`yield_before_sleep`](super::Builder::yield_before_sleep) set, the loop first
    /// gives its core away once and looks without waiting, so that events caused meanwhile
    /// by threads sharing the core are taken in one batch instead of each costing a sleep
    /// and a wake-up. Behind a thread that never blocks, a yield costs a whole scheduler
    /// slice: such slow yields are counted, those that brought at most one event hold the
    /// next yields back (`YieldBackOff`), and no yield is made when a timer is due within
    /// `TIMER_MARGIN`.
    fn park(&self) {
        let next = self.driver.next_deadline();
        if self.yield_before_sleep {
            let now = Instant::now();
            if may_yield(now, next) {
                if self.yield_back_off.may_yield() {
                    std::thread::yield_now();
                    bump(&self.counters.yields, 1);
                    let slow = now.elapsed() >= SLOW_YIELD;
                    if slow {
                        bump(&self.counters.slow_yields, 1);
                    }
                    // The look may take a pending notify, whose cause `has_work` sees
                    // instead. The events it takes wake their tasks, so `has_work` does not
                    // add to what the yield brought.
                    let events = self.poll_io(Some(Duration::ZERO));
                    self.yield_back_off.record(slow && events <= 1);
                    if events > 0 || self.has_work() {
                        return;
                    }
                } else {
                    bump(&self.counters.yields_held_back, 1);
                }
            }
        }
        // Measured after the yield, if any, which may have lasted a while.
        let timeout = next.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) && !self.driver.has_io() {
            // A timer is due and there is no socket to look at.
            return;
        }
        self.poll_io(timeout);
    }

    /// Takes I/O events, waiting up to `timeout` for one, and wakes their tasks; returns how
    /// many events came.
    fn poll_io(&self, timeout: Option<Duration>) -> usize {
        match self.driver.poll_events(&self.poller, timeout) {
            Ok(count) => {
                bump(&self.counters.io_events, count as u64);
                count
            }
            Err(error) => {
                // Only a broken poller fails here; say so and go on, rather than spin silently.
                tracing::error!("braid event loop: waiting for I/O failed: {error}");
                0
            }
        }
    }

    /// Deregisters and closes the descriptors of this loop's sockets that were dropped
    /// where the loop could not do it at once (see `Shared::release`).
    #[inline]
    fn close_released(&self) -> bool {
        // One atomic load in the usual turn, where nothing was released.
        if let Some(released) = self.shared.take_released() {
            self.deregister_all(released);
            return true;
        }
        false
    }

    #[cold]
    fn deregister_all(&self, released: Vec<(IoKey, OwnedFd)>) {
        for (key, fd) in released {
            // `fd` closes once it is out of the poller.
            self.driver.deregister(&self.poller, &fd, key);
        }
    }

    /// Wakes the tasks of expired timers; returns how many fired.
    fn fire_timers(&self) -> usize {
        let fired = self.driver.fire_timers();
        bump(&self.counters.timers_fired, fired as u64);
        fired
    }

    /// Ends the loop: refuses remote tasks, then drops every future still alive (running
    /// their destructors on this thread), until none is left.
    pub(crate) fn shutdown(&self) {
        let (remote, released) = self.shared.close();
        self.deregister_all(released);
        self.queue.extend(remote);
        loop {
            let queued = self.queue.take_all();
            for task in &queued {
                // Spawned through a `Handle` and never polled: linked so its future drops.
                // SAFETY: one of this loop's tasks, on its thread.
                unsafe { self.live.adopt(task) };
            }
            drop(queued);
            if !self.live.drop_all() && self.queue.is_empty() {
                break;
            }
        }
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let c = &self.counters;
        Metrics {
            tasks_spawned: c.spawned.get(),
            tasks_alive: self.live.len() as u64,
            polls: c.polls.get(),
            io_events: c.io_events.get(),
            timers_fired: c.timers_fired.get(),
            slow_polls: c.slow_polls.get(),
            blocking_jobs: c.blocking_jobs.get(),
            yields: c.yields.get(),
            slow_yields: c.slow_yields.get(),
            yields_held_back: c.yields_held_back.get(),
        }
    }

    /// The loop's pool for blocking work. Its one caller,
    /// [`spawn_blocking`](crate::spawn_blocking), submits a job each time, counted here.
    pub(crate) fn blocking_pool(&self) -> &BlockingPool {
        bump(&self.counters.blocking_jobs, 1);
        &self.blocking_pool
    }
}

/// Nanoseconds on a monotonic clock, for timing polls. Slow polls are tens of milliseconds,
/// so the kernel's coarse clock (a few milliseconds of resolution, read from shared memory
/// without a system call where Linux has it) is precise enough, and it is several times
/// cheaper than `Instant::now` on the path every task poll takes.
#[inline]
fn poll_clock() -> u64 {
    braid_sys::time::coarse_monotonic_nanos()
}

/// The clock as a turn's polls see it: when the last poll ended, in nanoseconds and as
/// task stats store it.
struct TurnClock {
    now: u64,
    end: PollEnd,
}

impl TurnClock {
    fn read() -> TurnClock {
        TurnClock::at(poll_clock())
    }

    fn at(now: u64) -> TurnClock {
        TurnClock {
            now,
            end: PollEnd::at(now),
        }
    }

    #[inline]
    fn set(&mut self, now: u64) {
        self.now = now;
        self.end = PollEnd::at(now);
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("queued", &self.queue.len())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn no_yield_when_a_timer_is_due_within_the_margin() {
        let now = Instant::now();
        assert!(may_yield(now, None));
        assert!(!may_yield(now, Some(now)));
        assert!(!may_yield(now, Some(now + TIMER_MARGIN)));
        assert!(may_yield(
            now,
            Some(now + TIMER_MARGIN + Duration::from_micros(1))
        ));
    }

    /// Takes `parks` parks; returns at how many the loop would have yielded.
    fn yields_in(back_off: &YieldBackOff, parks: u32) -> u32 {
        (0..parks).filter(|_| back_off.may_yield()).count() as u32
    }

    #[test]
    fn wasted_yields_hold_back_more_and_more_yields_up_to_a_limit() {
        let back_off = YieldBackOff::default();
        assert_eq!(
            yields_in(&back_off, 100),
            100,
            "no yield held back at first"
        );
        let mut held_back = MIN_HOLD_BACK;
        for _ in 0..12 {
            back_off.record(true);
            // The next `held_back` parks sleep at once; the one after yields.
            assert_eq!(yields_in(&back_off, held_back), 0);
            assert!(back_off.may_yield(), "held back for more than {held_back}");
            held_back = (held_back * 2).min(MAX_HOLD_BACK);
        }
        assert_eq!(back_off.held_back.get(), MAX_HOLD_BACK);
    }

    #[test]
    fn yields_that_are_not_wasted_ease_the_hold_back_and_hold_nothing_back() {
        let back_off = YieldBackOff::default();
        back_off.record(true);
        back_off.record(true);
        assert_eq!(back_off.held_back.get(), 2 * MIN_HOLD_BACK);
        yields_in(&back_off, 2 * MIN_HOLD_BACK);
        // One fewer than it takes to ease: the hold-back stands, and no park is skipped.
        for _ in 0..HOLD_BACK_EASES_AFTER - 1 {
            back_off.record(false);
            assert!(back_off.may_yield());
        }
        assert_eq!(back_off.held_back.get(), 2 * MIN_HOLD_BACK);
        back_off.record(false);
        assert_eq!(back_off.held_back.get(), MIN_HOLD_BACK);
        // A wasted yield in between starts the count again.
        for _ in 0..HOLD_BACK_EASES_AFTER - 1 {
            back_off.record(false);
        }
        back_off.record(true);
        assert_eq!(back_off.held_back.get(), 2 * MIN_HOLD_BACK);
        yields_in(&back_off, 2 * MIN_HOLD_BACK);
        // Eased down to nothing; the next wasted yield starts from the least again.
        for _ in 0..6 * HOLD_BACK_EASES_AFTER {
            back_off.record(false);
        }
        assert_eq!(back_off.held_back.get(), 0);
        back_off.record(true);
        assert_eq!(back_off.held_back.get(), MIN_HOLD_BACK);
    }
}
