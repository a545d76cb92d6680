//! A task's state: one atomic word, and the only transitions it may take.
//!
//! The low bits are flags; the rest count references. Every holder of a raw task pointer owns
//! one reference: the [`Task`](crate::Task) handle, each [`Waker`](std::task::Waker), each
//! run-queue entry, and the loop's list of live tasks. The task's memory is freed when the
//! count drops to zero.
//!
//! Nothing outside this file reads or writes the word's bits: each transition is a method of
//! [`State`] that returns what the caller must do next, and each read is a [`Snapshot`].

use std::fmt;

use super::loom::{AtomicUsize, Ordering};

/// Set while the task sits in a run queue (or is about to be pushed onto one).
///
/// Set by a wake ([`State::transition_to_notified_by_ref`], [`..._by_val`]) or a cancel
/// ([`State::transition_to_cancelled`]) that finds neither `SCHEDULED` nor a finish; a spawned
/// task starts with it. Cleared by [`State::transition_to_running`], which the loop makes as
/// it starts polling, and by the two finishes. A wake that finds `RUNNING` only sets it and
/// the loop, in [`State::transition_to_idle`], re-queues the task after the poll.
///
/// [`..._by_val`]: State::transition_to_notified_by_val
const SCHEDULED: usize = 1 << 0;

/// Set while the loop polls the future. Set by [`State::transition_to_running`], cleared by
/// [`State::transition_to_idle`] or [`State::transition_to_complete`]; loop thread only.
const RUNNING: usize = 1 << 1;

/// The future returned `Ready` (or panicked) and its output sits in the task.
/// Set once, by [`State::transition_to_complete`] on the loop thread; never cleared.
const COMPLETED: usize = 1 << 2;

/// The future was dropped (a cancel, or the end of the loop); there is no output.
/// Set once, by [`State::transition_to_dropped`]; never cleared. Excludes `COMPLETED`.
const DROPPED: usize = 1 << 3;

/// Cancellation was asked for. Set by [`State::transition_to_cancelled`] from any thread while
/// the task is neither `COMPLETED` nor `DROPPED`; never cleared. The loop, finding it in
/// [`State::transition_to_running`], drops the future instead of polling it.
const CANCELLED: usize = 1 << 4;

/// The [`Task`](crate::Task) handle still exists. A spawned task starts with it; cleared
/// once, by [`State::drop_handle`] or [`State::release_handle`].
///
/// It decides who owns the output: the loop drops the output itself when it completes a task
/// whose bit is already clear; otherwise the output is the handle's, to read or to drop when
/// it clears the bit. Completing and clearing are both read-modify-writes of this word, so
/// exactly one side sees the other.
const HANDLE: usize = 1 << 5;

/// Someone registered a waker in the task's `awaiter` slot. Set once, by
/// [`State::set_awaited`] (the handle, or a combinator polling it); the loop wakes the slot on
/// finishing only when this is set, which spares a task nobody waited on an atomic operation.
const AWAITED: usize = 1 << 6;

/// One reference. Added by [`State::ref_inc`] and by a wake or cancel that queues the task;
/// taken away by [`State::ref_dec`], [`State::ref_dec_two`], a consuming wake that queues
/// nothing, [`State::transition_to_idle`] when nothing woke the task, and the handle's two
/// ways of going.
const REF_ONE: usize = 1 << 7;

/// Mask of the reference count.
const REF_MASK: usize = !(REF_ONE - 1);

/// The future is gone: it completed or was dropped.
const FINISHED: usize = COMPLETED | DROPPED;

/// The state of a freshly spawned task: queued, with a handle, and three references (the
/// handle, the run-queue entry, and the loop's list of live tasks).
const INITIAL: usize = SCHEDULED | HANDLE | (3 * REF_ONE);

/// A task's state word.
pub(crate) struct State {
    word: AtomicUsize,
}

/// The state word as one transition or load saw it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What the loop does with a task it took from a run queue.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// The task is now `RUNNING`: poll it.
    Success,
    /// Cancelled while queued: drop the future instead of polling it. The state is unchanged;
    /// [`State::transition_to_dropped`] follows.
    Cancelled,
    /// The future is already gone (the loop ended or dropped it meanwhile): give up the
    /// queue's reference.
    Finished,
}

/// What the loop does with a task whose poll returned `Pending`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Nobody woke it during the poll: the queue's reference was given up with the
    /// transition.
    Idle,
    /// Woken (or cancelled) during the poll: queue it again, with the reference it came with.
    Scheduled,
}

/// What a wake that borrows its reference does next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    /// Already queued, running (the loop re-queues it), or finished.
    DoNothing,
    /// A reference was taken for a queue entry: schedule the task with it.
    Submit,
}

/// What a wake that gives up its reference does next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByVal {
    /// The reference was dropped and others remain.
    DoNothing,
    /// The reference now belongs to a queue entry: schedule the task with it.
    Submit,
    /// The reference was dropped and was the last: free the task.
    Dealloc,
}

/// What a cancel does next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToCancelled {
    /// The task had already finished or been cancelled: nothing changed.
    AlreadyDone,
    /// Marked; the task is already queued or running, so the loop will see it.
    Marked,
    /// Marked, and a reference was taken for a queue entry: schedule the task with it.
    Submit,
}

/// What a handle that did not take the output does as it goes.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropHandle {
    /// The task completed while the handle existed: the output is the handle's to drop, and
    /// the handle still holds its reference, to give up with [`State::ref_dec`] afterwards.
    OwnsOutput,
    /// The handle's reference is given up (and the loop will drop any output); others remain.
    Released,
    /// The handle's reference was the last: free the task.
    Dealloc,
}

impl State {
    /// The state of a freshly spawned task: queued, with a handle, holding three references
    /// (the handle's, a run-queue entry's, and the loop's live list's).
    pub(crate) fn new() -> State {
        State {
            word: AtomicUsize::new(INITIAL),
        }
    }

    /// Reads the word.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(Ordering::Acquire))
    }

    /// Applies `f` to the word until the exchange succeeds; `f` returns the next word and the
    /// outcome, or `None` for the word to stay as it is. Returns the outcome and the word that
    /// `f` saw last.
    fn fetch_update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> (R, Snapshot) {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (next, outcome) = f(current);
            let Some(next) = next else {
                return (outcome, Snapshot(current));
            };
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return (outcome, Snapshot(current)),
                Err(actual) => current = actual,
            }
        }
    }

    /// `SCHEDULED -> RUNNING`, unless the task was cancelled or finished meanwhile. Loop
    /// thread only, holding the queue entry's reference.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update(|state| {
            if state & FINISHED != 0 {
                (None, TransitionToRunning::Finished)
            } else if state & CANCELLED != 0 {
                (None, TransitionToRunning::Cancelled)
            } else {
                debug_assert!(state & RUNNING == 0, "a task was polled twice at once");
                let next = (state & !SCHEDULED) | RUNNING;
                (Some(next), TransitionToRunning::Success)
            }
        })
        .0
    }

    /// `RUNNING -> idle` after a poll that returned `Pending`. Loop thread only, holding the
    /// queue entry's reference. If nobody woke the task during the poll, that reference is
    /// given up in the same step (one atomic operation per poll fewer than a separate
    /// `ref_dec`); it is never the last, as the live list holds one while the future lives.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update(|state| {
            debug_assert!(state & RUNNING != 0, "an idle task was parked");
            if state & SCHEDULED != 0 {
                (Some(state & !RUNNING), TransitionToIdle::Scheduled)
            } else {
                debug_assert!(
                    state & REF_MASK >= 2 * REF_ONE,
                    "a parked task has its queue entry's and the live list's references"
                );
                (Some((state & !RUNNING) - REF_ONE), TransitionToIdle::Idle)
            }
        })
        .0
    }

    /// `RUNNING -> COMPLETED` once the output is stored. Loop thread only. Returns the word
    /// from just before: if it has no handle, the output is the loop's to drop; if it was
    /// awaited, the awaiter must be woken.
    #[must_use]
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        self.fetch_update(|state| {
            debug_assert!(state & RUNNING != 0, "a task completed without running");
            debug_assert!(state & FINISHED == 0, "a task finished twice");
            (Some((state & !(RUNNING | SCHEDULED)) | COMPLETED), ())
        })
        .1
    }

    /// Marks the future dropped, once the loop (or a spawn that never reached one) dropped it.
    /// Returns the word from just before: if it was awaited, the awaiter must be woken.
    #[must_use]
    pub(crate) fn transition_to_dropped(&self) -> Snapshot {
        self.fetch_update(|state| {
            debug_assert!(state & RUNNING == 0, "a running task's future was dropped");
            debug_assert!(state & FINISHED == 0, "a task finished twice");
            (Some((state & !SCHEDULED) | DROPPED), ())
        })
        .1
    }

    /// A wake through a reference the caller keeps (`wake_by_ref`, or a cancel's own).
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update(|state| {
            if state & (SCHEDULED | FINISHED) != 0 {
                (None, TransitionToNotified::DoNothing)
            } else if state & RUNNING != 0 {
                // The loop re-queues it after the poll, with the reference it already has.
                (Some(state | SCHEDULED), TransitionToNotified::DoNothing)
            } else {
                Self::check_ref_overflow(state);
                let next = (state | SCHEDULED) + REF_ONE;
                (Some(next), TransitionToNotified::Submit)
            }
        })
        .0
    }

    /// A wake that gives up the caller's reference (`wake`): the reference either goes to the
    /// queue entry or is dropped, in the same step.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        self.fetch_update(|state| {
            debug_assert!(
                state & REF_MASK >= REF_ONE,
                "task reference count underflow"
            );
            if state & (SCHEDULED | FINISHED | RUNNING) == 0 {
                return (Some(state | SCHEDULED), TransitionToNotifiedByVal::Submit);
            }
            let next = if state & (SCHEDULED | FINISHED) == 0 {
                // Running: the loop re-queues it after the poll with its own reference.
                (state | SCHEDULED) - REF_ONE
            } else {
                state - REF_ONE
            };
            if next & REF_MASK == 0 {
                (Some(next), TransitionToNotifiedByVal::Dealloc)
            } else {
                (Some(next), TransitionToNotifiedByVal::DoNothing)
            }
        })
        .0
    }

    /// Asks for cancellation from any thread, through a reference the caller keeps.
    pub(crate) fn transition_to_cancelled(&self) -> TransitionToCancelled {
        self.fetch_update(|state| {
            if state & (FINISHED | CANCELLED) != 0 {
                (None, TransitionToCancelled::AlreadyDone)
            } else if state & (SCHEDULED | RUNNING) != 0 {
                // Already on its way to the loop, which sees `CANCELLED` and drops the future
                // instead of polling it.
                (
                    Some(state | CANCELLED | SCHEDULED),
                    TransitionToCancelled::Marked,
                )
            } else {
                Self::check_ref_overflow(state);
                let next = (state | CANCELLED | SCHEDULED) + REF_ONE;
                (Some(next), TransitionToCancelled::Submit)
            }
        })
        .0
    }

    /// Marks the task awaited once its `awaiter` slot holds a waker; returns the word from
    /// just before, so a finish that raced with the registration shows in it.
    #[must_use]
    pub(crate) fn set_awaited(&self) -> Snapshot {
        // Ordered after the registration: a loop that finishes the task after this sees the
        // bit and wakes the slot; one that finished before shows here.
        Snapshot(self.word.fetch_or(AWAITED, Ordering::AcqRel))
    }

    /// The handle goes without having taken the output: clears `HANDLE` and, unless the
    /// output is now the handle's, gives up its reference in the same step.
    pub(crate) fn drop_handle(&self) -> DropHandle {
        self.fetch_update(|state| {
            debug_assert!(state & HANDLE != 0, "a task handle was dropped twice");
            if state & COMPLETED != 0 {
                (Some(state & !HANDLE), DropHandle::OwnsOutput)
            } else {
                let next = (state & !HANDLE) - REF_ONE;
                if next & REF_MASK == 0 {
                    (Some(next), DropHandle::Dealloc)
                } else {
                    (Some(next), DropHandle::Released)
                }
            }
        })
        .0
    }

    /// The handle goes after taking the output: clears `HANDLE` and gives up its reference in
    /// one subtraction. Returns `true` if that was the last reference: free the task.
    #[must_use = "the task must be freed when this returns true"]
    pub(crate) fn release_handle(&self) -> bool {
        // `HANDLE` is set while the handle exists, so subtracting it clears it.
        let previous = self.word.fetch_sub(HANDLE | REF_ONE, Ordering::AcqRel);
        debug_assert!(previous & HANDLE != 0, "a task handle was released twice");
        previous & REF_MASK == REF_ONE
    }

    /// Takes one more reference (a waker clone).
    pub(crate) fn ref_inc(&self) {
        let previous = self.word.fetch_add(REF_ONE, Ordering::Relaxed);
        Self::check_ref_overflow(previous);
    }

    /// Gives up one reference. Returns `true` if it was the last: free the task.
    #[must_use = "the task must be freed when this returns true"]
    pub(crate) fn ref_dec(&self) -> bool {
        let previous = self.word.fetch_sub(REF_ONE, Ordering::AcqRel);
        debug_assert!(
            previous & REF_MASK >= REF_ONE,
            "task reference count underflow"
        );
        previous & REF_MASK == REF_ONE
    }

    /// Gives up two references at once (the loop's queue entry and live-list entry). Returns
    /// `true` if they were the last: free the task.
    #[must_use = "the task must be freed when this returns true"]
    pub(crate) fn ref_dec_two(&self) -> bool {
        let previous = self.word.fetch_sub(2 * REF_ONE, Ordering::AcqRel);
        debug_assert!(
            previous & REF_MASK >= 2 * REF_ONE,
            "task reference count underflow"
        );
        previous & REF_MASK == 2 * REF_ONE
    }

    /// Stops before the count wraps (billions of leaked wakers), which would free the task
    /// too early.
    fn check_ref_overflow(state: usize) {
        if state > isize::MAX as usize {
            std::process::abort();
        }
    }
}

impl Snapshot {
    /// Whether the task sits in a run queue or is about to.
    pub(crate) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }

    /// Whether the loop is polling the future.
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }

    /// Whether the future returned and the output is (or was) in the task.
    pub(crate) fn is_completed(self) -> bool {
        self.0 & COMPLETED != 0
    }

    /// Whether the future was dropped without completing.
    pub(crate) fn is_dropped(self) -> bool {
        self.0 & DROPPED != 0
    }

    /// Whether the future is gone: completed or dropped.
    pub(crate) fn is_finished(self) -> bool {
        self.0 & FINISHED != 0
    }

    /// Whether a cancel was asked for.
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }

    /// Whether the [`Task`](crate::Task) handle still exists.
    pub(crate) fn has_handle(self) -> bool {
        self.0 & HANDLE != 0
    }

    /// Whether a waker sits in the `awaiter` slot.
    pub(crate) fn is_awaited(self) -> bool {
        self.0 & AWAITED != 0
    }

    /// How many references are held.
    pub(crate) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) / REF_ONE
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("scheduled", &self.is_scheduled())
            .field("running", &self.is_running())
            .field("completed", &self.is_completed())
            .field("dropped", &self.is_dropped())
            .field("cancelled", &self.is_cancelled())
            .field("handle", &self.has_handle())
            .field("awaited", &self.is_awaited())
            .field("refs", &self.ref_count())
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}
