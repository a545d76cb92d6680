//! The bits of a task's atomic state word.
//!
//! The low bits are flags; the rest count references. Every holder of a raw task pointer owns
//! one reference: the [`Task`](crate::Task) handle, each [`Waker`](std::task::Waker), each
//! run-queue entry, and the loop's list of live tasks. The task's memory is freed when the
//! count drops to zero.

/// Set while the task sits in a run queue (or is about to be pushed onto one).
///
/// Set by a wake when neither `SCHEDULED`, `COMPLETED` nor `DROPPED` is set; cleared by the
/// loop when it starts polling the task. A wake that finds `RUNNING` only sets this bit and
/// the loop re-queues the task after the poll.
pub(crate) const SCHEDULED: usize = 1 << 0;

/// Set while the loop polls the future. Set and cleared only by the loop thread.
pub(crate) const RUNNING: usize = 1 << 1;

/// The future returned `Ready` (or panicked) and its output sits in the task.
/// Set once, by the loop thread; never cleared.
pub(crate) const COMPLETED: usize = 1 << 2;

/// The future was dropped because the task was cancelled; there is no output.
/// Set once, by the loop thread; never cleared. Excludes `COMPLETED`.
pub(crate) const DROPPED: usize = 1 << 3;

/// Cancellation was asked for. Set by [`Task::cancel`](crate::Task::cancel) from any thread
/// while the task is neither `COMPLETED` nor `DROPPED`; never cleared.
pub(crate) const CANCELLED: usize = 1 << 4;

/// The [`Task`](crate::Task) handle still exists. Cleared once, when it is dropped.
///
/// It decides who owns the output: the loop drops the output itself when it completes a task
/// whose bit is already clear; otherwise the output is the handle's, to read or to drop when
/// it clears the bit. Completing and clearing are both read-modify-writes of this word, so
/// exactly one side sees the other.
pub(crate) const HANDLE: usize = 1 << 5;

/// Someone registered a waker in the task's `awaiter` slot. Set once, by the handle (or a
/// combinator polling it); the loop wakes the slot on finishing only when this is set, which
/// spares a task nobody waited on an atomic operation.
pub(crate) const AWAITED: usize = 1 << 6;

/// One reference.
pub(crate) const REF_ONE: usize = 1 << 7;

/// Mask of the reference count.
pub(crate) const REF_MASK: usize = !(REF_ONE - 1);

/// The future is gone: it completed or was dropped.
pub(crate) const FINISHED: usize = COMPLETED | DROPPED;

/// The state of a freshly spawned task: queued, with a handle, and three references (the
/// handle, the run-queue entry, and the loop's list of live tasks).
pub(crate) const INITIAL: usize = SCHEDULED | HANDLE | (3 * REF_ONE);
