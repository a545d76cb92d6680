//! The part of a loop other threads can reach: the poller and the queue of remote wakes.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Wake;

use braid_poller::Poller;

use super::context;
use crate::driver::IoKey;
use crate::task::{NowPolling, Schedule, TaskDump, TaskRef};

/// What a loop shares with wakers, handles and other threads.
///
/// Wakers and task handles keep it alive, possibly long after the loop ended, so it holds the
/// loop's poller (and its descriptors) only while the loop runs: see [`Remote::poller`].
pub(crate) struct Shared {
    remote: Mutex<Remote>,
    /// Set when `remote` has tasks the loop has not taken yet; lets the loop skip the lock,
    /// and lets a burst of remote wakes cost one `notify`.
    remote_pending: AtomicBool,
    /// Set when the future given to `block_on` was woken.
    pub(crate) main_woken: AtomicBool,
    /// What the loop is polling now, for a dump asked of a loop blocked in a poll.
    pub(crate) now_polling: NowPolling,
    /// Where to send the dumps other threads asked for; the loop answers between polls.
    dumps: Mutex<Vec<Sender<TaskDump>>>,
    /// Set when `dumps` has requests the loop has not answered.
    dump_pending: AtomicBool,
    /// Set when `Remote::released` has descriptors the loop has not closed yet.
    released_pending: AtomicBool,
}

struct Remote {
    tasks: Vec<TaskRef>,
    /// Descriptors of the loop's sockets that were dropped off its thread (or while it was
    /// not running), still open and registered: the loop deregisters and closes them on its
    /// next turn. Kept open until then so that their numbers cannot be reused meanwhile.
    released: Vec<(IoKey, OwnedFd)>,
    /// The loop has ended: nothing is queued any more.
    closed: bool,
    /// The loop's poller, to wake it from other threads; `None` once the loop has ended, so
    /// that a waker or `Task` kept after that does not keep the loop's descriptors open. A
    /// waker clones it under the lock and notifies outside it: the descriptors close only
    /// when the last clone goes, never under a notify.
    poller: Option<Arc<Poller>>,
}

/// Sets `pending` and, if it was clear, wakes the loop: one notify for a burst of hand-overs.
/// Notifies outside the lock, which `remote` is, so the descriptors close only when the last
/// clone of the poller goes, never under a notify.
fn notify_once(remote: MutexGuard<'_, Remote>, pending: &AtomicBool) {
    let poller = if pending.swap(true, Ordering::AcqRel) {
        None
    } else {
        remote.poller.clone()
    };
    drop(remote);
    if let Some(poller) = poller {
        let _ = poller.notify();
    }
}

impl Shared {
    pub(crate) fn new(poller: Arc<Poller>) -> Shared {
        Shared {
            remote: Mutex::new(Remote {
                tasks: Vec::new(),
                released: Vec::new(),
                closed: false,
                poller: Some(poller),
            }),
            remote_pending: AtomicBool::new(false),
            main_woken: AtomicBool::new(false),
            now_polling: NowPolling::default(),
            dumps: Mutex::new(Vec::new()),
            dump_pending: AtomicBool::new(false),
            released_pending: AtomicBool::new(false),
        }
    }

    fn remote(&self) -> MutexGuard<'_, Remote> {
        // Nothing that runs under this lock can panic halfway through, so a poisoned lock
        // still guards a consistent queue.
        self.remote
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a woken task: on the loop's own queue when called on the loop thread (no lock,
    /// no system call), otherwise on the remote queue, waking the loop's poller.
    ///
    /// Inlined, with the remote path out of line: a wake on the loop thread is the common
    /// case, and then this is a thread-local load and a push.
    #[inline]
    pub(crate) fn schedule(&self, task: TaskRef) {
        if let Err(task) = context::schedule_local(self, task) {
            self.schedule_remote(task);
        }
    }

    #[inline(never)]
    fn schedule_remote(&self, task: TaskRef) {
        if let Err(task) = self.push_remote(task) {
            // The loop has ended and dropped every future; only the reference is left.
            drop(task);
        }
    }

    /// Queues a task from another thread; hands it back if the loop has ended.
    pub(crate) fn push_remote(&self, task: TaskRef) -> Result<(), TaskRef> {
        let mut remote = self.remote();
        if remote.closed {
            return Err(task);
        }
        remote.tasks.push(task);
        // A failed notify leaves the task queued for the loop's next turn; nothing better
        // can be done from a waker, which cannot report errors.
        notify_once(remote, &self.remote_pending);
        Ok(())
    }

    /// Wakes the loop from another thread, unless it has ended.
    fn notify(&self) {
        let poller = self.remote().poller.clone();
        if let Some(poller) = poller {
            let _ = poller.notify();
        }
    }

    /// Moves the tasks other threads queued into `into`: one load, inlined into every turn,
    /// when there are none.
    #[inline]
    pub(crate) fn take_remote(&self, into: &mut impl Extend<TaskRef>) {
        if self.remote_pending.load(Ordering::Acquire) {
            self.take_remote_tasks(into);
        }
    }

    #[inline(never)]
    fn take_remote_tasks(&self, into: &mut impl Extend<TaskRef>) {
        self.remote_pending.store(false, Ordering::Release);
        let tasks = std::mem::take(&mut self.remote().tasks);
        into.extend(tasks);
    }

    /// Hands the loop a descriptor registered under `key` whose socket was dropped where
    /// the loop could not deregister it at once: the loop deregisters and closes it on its
    /// next turn. If the loop has ended, `fd` is closed here and now; its poller no longer
    /// waits, and closing the descriptor takes it out of the poller's set.
    pub(crate) fn release(&self, key: IoKey, fd: OwnedFd) {
        let mut remote = self.remote();
        if remote.closed {
            drop(remote);
            drop(fd);
            return;
        }
        remote.released.push((key, fd));
        // A failed notify leaves the descriptor queued for the loop's next turn.
        notify_once(remote, &self.released_pending);
    }

    /// Takes the descriptors handed over by [`release`](Shared::release), if any: one load
    /// when there are none.
    #[inline]
    pub(crate) fn take_released(&self) -> Option<Vec<(IoKey, OwnedFd)>> {
        if !self.released_pending.load(Ordering::Acquire) {
            return None;
        }
        self.released_pending.store(false, Ordering::Release);
        Some(std::mem::take(&mut self.remote().released))
    }

    /// Refuses further remote tasks and released descriptors, lets go of the poller and
    /// hands back the tasks and the descriptors still queued.
    pub(crate) fn close(&self) -> (Vec<TaskRef>, Vec<(IoKey, OwnedFd)>) {
        let mut remote = self.remote();
        remote.closed = true;
        let poller = remote.poller.take();
        let tasks = std::mem::take(&mut remote.tasks);
        let released = std::mem::take(&mut remote.released);
        drop(remote);
        drop(poller);
        (tasks, released)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.remote().closed
    }

    pub(crate) fn has_remote(&self) -> bool {
        self.remote_pending.load(Ordering::Acquire)
    }

    /// Asks the loop for a [`TaskDump`], to be sent on `answer` at the end of its next turn;
    /// `false` if the loop has ended.
    pub(crate) fn request_dump(&self, answer: Sender<TaskDump>) -> bool {
        if self.is_closed() {
            return false;
        }
        self.dumps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(answer);
        // After the push: the loop that sees the flag finds the request.
        self.dump_pending.store(true, Ordering::Release);
        self.notify();
        true
    }

    /// Whether another thread waits for a dump: one load, at the end of every turn.
    pub(crate) fn dump_requested(&self) -> bool {
        self.dump_pending.load(Ordering::Acquire)
    }

    /// The requests waiting for a dump.
    pub(crate) fn take_dump_requests(&self) -> Vec<Sender<TaskDump>> {
        // Cleared before taking: a request pushed after the take sets the flag again.
        self.dump_pending.store(false, Ordering::Release);
        std::mem::take(
            &mut *self
                .dumps
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// How the loop's tasks are queued when woken: the loop's own queue on the loop thread, the
/// remote queue from anywhere else.
impl Schedule for Arc<Shared> {
    fn schedule(&self, task: TaskRef) {
        Shared::schedule(self, task);
    }
}

/// The waker of the future passed to `block_on`.
impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.main_woken.store(true, Ordering::Release);
        if !context::is_current(self) {
            self.notify();
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
