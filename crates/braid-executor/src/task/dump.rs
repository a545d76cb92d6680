//! What a loop's tasks are doing: [`TaskDump`], from
//! [`EventLoop::tasks`](crate::EventLoop::tasks) and [`Handle::tasks`](crate::Handle::tasks)
//! (Python's `asyncio.all_tasks`, with what tokio-console shows).
//!
//! Each task's header keeps a [`PollStats`] of 16 bytes: its number, how many polls it had,
//! how long they took, and when the last one ended. The loop thread writes them once after
//! each poll, from the clock reading it takes anyway to time the poll (the poll in progress is
//! timed by [`NowPolling`]), and reads them to make a dump; the list of live tasks stays the loop thread's alone, so
//! spawning and finishing a task take no lock. Another thread asks the loop for a dump and
//! the loop answers between polls; for a loop blocked in a poll, which cannot answer,
//! [`NowPolling`] tells which task (or main future) it is in, from any thread.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicPtr;
use std::time::Duration;

use super::loom::{AtomicU32, AtomicU64, Ordering};
use super::raw::Header;

/// A task's number and poll timings, in 16 bytes of its header. Written and read by its loop
/// thread (atomics only so that the header stays `Sync`; relaxed loads and stores are plain
/// moves). Kept small on purpose: every idle task carries them.
///
/// - `id` counts the loop's tasks from 1 (it wraps after 2^32 spawns, which only a display
///   would notice);
/// - `polls` saturates at `u32::MAX`;
/// - `busy` is the total poll time in units of 1,024 ns (a shift, not a division, on the hot
///   path), saturating after 73 minutes;
/// - `last` is when the last poll ended, in units of 2^20 ns (about a millisecond) of the
///   loop's coarse clock (`braid_sys::time`), wrapping every 52 days; 0 for never. A poll in
///   progress is timed from [`NowPolling`] instead, so a poll costs the task one write of
///   these, at its end.
#[derive(Debug)]
pub(crate) struct PollStats {
    id: AtomicU32,
    polls: AtomicU32,
    busy: AtomicU32,
    last: AtomicU32,
}

/// `busy` counts units of `1 << BUSY_SHIFT` nanoseconds.
const BUSY_SHIFT: u32 = 10;
/// `last` counts units of `1 << LAST_SHIFT` nanoseconds.
const LAST_SHIFT: u32 = 20;

/// The coarse clock's nanoseconds in `last`'s units, never 0 (which means "never polled").
#[inline]
fn last_units(nanos: u64) -> u32 {
    ((nanos >> LAST_SHIFT) as u32).max(1)
}

/// When a poll ended, in `last`'s units: computed once per clock reading that moved, not
/// once per poll, since most polls end at the same coarse-clock reading as the one before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollEnd(u32);

impl PollEnd {
    /// A poll that ends at `nanos` on the coarse clock.
    #[inline]
    pub(crate) fn at(nanos: u64) -> PollEnd {
        PollEnd(last_units(nanos))
    }
}

impl PollStats {
    pub(crate) fn new() -> PollStats {
        PollStats {
            id: AtomicU32::new(0),
            polls: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            last: AtomicU32::new(0),
        }
    }

    /// Numbers the task, as its loop first sees it.
    pub(super) fn set_id(&self, id: u64) {
        self.id.store(id as u32, Ordering::Relaxed);
    }

    /// The task's number on its loop.
    pub(crate) fn id(&self) -> u64 {
        u64::from(self.id.load(Ordering::Relaxed))
    }

    /// A poll ended at `end`. Loop thread only: the only writer, so a load and a store do
    /// what a read-modify-write would, for less. The time the poll took goes to
    /// [`add_busy`](PollStats::add_busy), called only when it is not 0: on the coarse clock
    /// most polls take no time at all.
    #[inline]
    pub(crate) fn poll_ended(&self, end: PollEnd) {
        self.polls.store(
            self.polls.load(Ordering::Relaxed).saturating_add(1),
            Ordering::Relaxed,
        );
        self.last.store(end.0, Ordering::Relaxed);
    }

    /// Adds `took` nanoseconds to the task's poll time. Loop thread only, like
    /// [`poll_ended`](PollStats::poll_ended).
    #[inline]
    pub(crate) fn add_busy(&self, took: u64) {
        let units = u32::try_from(took >> BUSY_SHIFT).unwrap_or(u32::MAX);
        self.busy.store(
            self.busy.load(Ordering::Relaxed).saturating_add(units),
            Ordering::Relaxed,
        );
    }

    /// What `header`'s task is doing at `now` (coarse clock nanoseconds); `polling_since` is
    /// when the poll in progress started, for the task being polled.
    pub(super) fn info(header: &Header, now: u64, polling_since: Option<u64>) -> TaskInfo {
        let stats = &header.stats;
        let state = header.state.load();
        let state = if state.is_running() {
            TaskState::Running
        } else if state.is_scheduled() {
            TaskState::Scheduled
        } else {
            TaskState::Waiting
        };
        let last = stats.last.load(Ordering::Relaxed);
        let since_polled = match (state, polling_since) {
            // A running task: since the poll in progress started.
            (TaskState::Running, Some(started)) => {
                Some(Duration::from_nanos(now.saturating_sub(started)))
            }
            // Any other: since its last poll ended.
            _ => (last != 0).then(|| {
                let units = u64::from(last_units(now).wrapping_sub(last));
                Duration::from_nanos(units << LAST_SHIFT)
            }),
        };
        TaskInfo {
            id: stats.id(),
            location: header.location,
            state,
            since_polled,
            busy: Duration::from_nanos(u64::from(stats.busy.load(Ordering::Relaxed)) << BUSY_SHIFT),
            polls: u64::from(stats.polls.load(Ordering::Relaxed)),
        }
    }
}

/// What the loop is polling now, readable from any thread: what a dump can still say about a
/// loop that is blocked in a poll and cannot answer. The loop thread writes what it polls
/// before each poll, the start time when its coarse clock moves (a poll starts when the one
/// before it ended), and clears it after a turn's polls; it holds only `'static` data and
/// numbers, never a pointer into a task.
#[derive(Debug, Default)]
pub(crate) struct NowPolling {
    /// Where the polled task was spawned (or `block_on` called); null between turns.
    location: AtomicPtr<Location<'static>>,
    /// When the poll started, on the coarse clock (nanoseconds).
    started: AtomicU64,
    /// Its number; 0 for the main future.
    id: AtomicU32,
}

impl NowPolling {
    /// A poll of task `id` (0: the main future), from `location`, starts at the time last
    /// given to [`set_started`](NowPolling::set_started).
    #[inline]
    pub(crate) fn start(&self, id: u64, location: &'static Location<'static>) {
        self.id.store(id as u32, Ordering::Relaxed);
        // Release: a reader that sees the location sees the number and time with it.
        self.location
            .store(std::ptr::from_ref(location).cast_mut(), Ordering::Release);
    }

    /// The next poll starts at `now` (and so do the ones after it, until this is called
    /// again): the loop calls it when its clock reading moves, not before each poll. A reader
    /// that sees it while the previous poll is still shown (between polls) may see that poll
    /// as started later than it did, by one poll: a diagnostic off by one poll, as in `dump`.
    #[inline]
    pub(crate) fn set_started(&self, now: u64) {
        self.started.store(now, Ordering::Relaxed);
    }

    /// When the poll in progress started, read on the loop thread itself (a task asking for
    /// its own loop's tasks is the one being polled).
    pub(crate) fn started_here(&self) -> Option<u64> {
        (!self.location.load(Ordering::Relaxed).is_null())
            .then(|| self.started.load(Ordering::Relaxed))
    }

    /// The poll ended.
    #[inline]
    pub(crate) fn end(&self) {
        self.location.store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    /// A dump that lists only what is being polled (nothing, between polls); `complete` is
    /// false.
    pub(crate) fn dump(&self, now: u64) -> TaskDump {
        let location = self.location.load(Ordering::Acquire);
        let id = u64::from(self.id.load(Ordering::Relaxed));
        let started = self.started.load(Ordering::Relaxed);
        // A poll that ended and another that started between the loads could pair one's
        // location with the other's number: a diagnostic may be off by one poll, never unsound.
        let tasks = if location.is_null() {
            Vec::new()
        } else {
            // SAFETY: only ever a `&'static Location` (see `start`).
            let location: &'static Location<'static> = unsafe { &*location };
            vec![TaskInfo {
                id,
                location,
                state: TaskState::Running,
                since_polled: Some(Duration::from_nanos(now.saturating_sub(started))),
                busy: Duration::ZERO,
                polls: 0,
            }]
        };
        TaskDump::new(tasks, false)
    }
}

/// What a task is doing, in a [`TaskInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Woken (or new) and queued: it runs at the loop's next turn.
    Scheduled,
    /// Waiting for something to wake it: I/O, a timer, another task, a lock.
    Waiting,
    /// Being polled now. Seen from another thread for longer than a moment, it is blocking
    /// the loop.
    Running,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Waiting => "waiting",
            TaskState::Running => "running",
        })
    }
}

/// One live task in a [`TaskDump`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's number on its loop: 1 for the first task the loop saw, and so on; 0 for
    /// the future given to `block_on`, in a dump that is not complete.
    pub id: u64,
    /// Where it was spawned.
    pub location: &'static Location<'static>,
    /// Whether it is queued, waiting or being polled.
    pub state: TaskState,
    /// How long since its last poll ended, or for a running task since its poll started;
    /// `None` if it was never polled. Read from a coarse clock: a few milliseconds of
    /// resolution.
    pub since_polled: Option<Duration>,
    /// How long its finished polls took in all (same clock).
    pub busy: Duration,
    /// How many polls it finished.
    pub polls: u64,
}

/// A snapshot of every live task of a loop: spawned, not yet finished or dropped. From
/// [`EventLoop::tasks`](crate::EventLoop::tasks) or, from any thread,
/// [`Handle::tasks`](crate::Handle::tasks).
///
/// Its `Display` is a table, one task per line, oldest first:
///
/// ```text
///  id  state        since   busy   polls  spawned at
///   1  waiting      1.20s   15us       1  src/main.rs:10:5
///   2  running     30.00s      0       0  src/main.rs:14:5
/// ```
///
/// A task spawned through a [`Handle`](crate::Handle) appears once its loop has taken it
/// from the remote queue. The future given to `block_on` is not a task and is not listed,
/// except in a dump that is not [complete](TaskDump::is_complete), as task 0.
#[derive(Debug, Clone)]
pub struct TaskDump {
    tasks: Vec<TaskInfo>,
    complete: bool,
}

impl TaskDump {
    pub(crate) fn new(mut tasks: Vec<TaskInfo>, complete: bool) -> TaskDump {
        tasks.sort_by_key(|task| task.id);
        TaskDump { tasks, complete }
    }

    /// Whether every live task is listed: `false` when the loop, asked from another thread,
    /// did not answer in time because it was blocked in a poll (or not running at all). Such a
    /// dump lists only what the loop was polling: the blocking task, or the future given to
    /// `block_on` as task 0; its `busy` and `polls` are not known and read 0.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The tasks, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, TaskInfo> {
        self.tasks.iter()
    }

    /// How many tasks were live.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no task was live.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl<'a> IntoIterator for &'a TaskDump {
    type Item = &'a TaskInfo;
    type IntoIter = std::slice::Iter<'a, TaskInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.iter()
    }
}

impl IntoIterator for TaskDump {
    type Item = TaskInfo;
    type IntoIter = std::vec::IntoIter<TaskInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.into_iter()
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4}  {:<9}  {:>8}  {:>8}  {:>6}  spawned at",
            "id", "state", "since", "busy", "polls"
        )?;
        for task in &self.tasks {
            let since = task.since_polled.map_or("-".to_owned(), short);
            writeln!(
                f,
                "{:>4}  {:<9}  {:>8}  {:>8}  {:>6}  {}",
                task.id,
                task.state,
                since,
                short(task.busy),
                task.polls,
                task.location
            )?;
        }
        if !self.complete {
            writeln!(
                f,
                "(the loop did not answer: it is blocked in the poll above, or not running; \
                 other tasks are not listed)"
            )?;
        }
        Ok(())
    }
}

/// A duration in a few characters: `0`, `850us`, `12ms`, `3.25s`.
fn short(duration: Duration) -> String {
    if duration.is_zero() {
        "0".to_owned()
    } else if duration < Duration::from_millis(1) {
        format!("{}us", duration.as_micros())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}
