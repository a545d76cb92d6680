//! The loop's list of live tasks: every task whose future is still there, so that the end of
//! the loop can drop them all on its own thread, and [`TaskDump`] can show them from any.

use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use super::dump::{PollStats, TaskDump};
use super::raw::{Header, TaskRef, UNLINKED};

/// Every task whose future is still alive and that the loop has seen; each entry owns a
/// reference. Tasks know their index, so removal is a swap. It stays on its loop's thread (it
/// is neither `Send` nor `Sync`); other threads see the tasks only through the [`LiveList`]
/// it shares, and only their header's atomics and location.
pub(crate) struct LiveTasks {
    list: Arc<LiveList>,
    /// The number the next task linked gets.
    next_id: Cell<u64>,
}

/// The entries of a [`LiveTasks`], under a lock so that another thread can make a
/// [`TaskDump`]. Only the loop thread links and unlinks (a lock with no contention costs two
/// atomic operations); a dump holds the lock while it reads, so no entry's task is freed
/// meanwhile.
pub(crate) struct LiveList {
    tasks: Mutex<Vec<NonNull<Header>>>,
}

// SAFETY: the pointers are only dereferenced, off the loop thread, by `dump`, under the lock,
// while the list's reference keeps each header alive; it reads only the header's atomics and
// its `&'static` location, never the future or the output.
unsafe impl Send for LiveList {}
// SAFETY: as above.
unsafe impl Sync for LiveList {}

impl LiveList {
    pub(crate) fn with_capacity(capacity: usize) -> LiveList {
        LiveList {
            tasks: Mutex::new(Vec::with_capacity(capacity)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<NonNull<Header>>> {
        // Nothing under the lock panics halfway through a change.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What every live task is doing now.
    pub(crate) fn dump(&self) -> TaskDump {
        let now = braid_sys::time::coarse_monotonic_nanos();
        let tasks = self.lock();
        TaskDump::new(
            tasks
                .iter()
                // SAFETY: each entry owns a reference, and it stays in the list while the
                // lock is held.
                .map(|ptr| PollStats::info(unsafe { ptr.as_ref() }, now))
                .collect(),
        )
    }
}

impl LiveTasks {
    /// The loop's list, whose entries `list` holds.
    pub(crate) fn new(list: Arc<LiveList>) -> LiveTasks {
        LiveTasks {
            list,
            next_id: Cell::new(1),
        }
    }

    /// How many tasks are alive.
    pub(crate) fn len(&self) -> usize {
        self.list.lock().len()
    }

    /// Adds a task the loop sees for the first time, using the reference a fresh task keeps for
    /// the list; returns `false`, and does nothing, if it is already in.
    ///
    /// # Safety
    ///
    /// The task has not finished, and was spawned on the loop this list belongs to, which runs
    /// on this thread: [`drop_all`](LiveTasks::drop_all) drops the futures of the list's tasks
    /// here.
    pub(crate) unsafe fn link(&self, task: &TaskRef) -> bool {
        // SAFETY: the index is only touched on the loop thread, which this list is confined
        // to, and `task` keeps the header alive.
        let index = task.header().alive_index.with_mut(|index| unsafe { *index });
        if index != UNLINKED {
            // The common case, on every poll: checked without the lock.
            return false;
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        task.header().stats.set_id(id);
        let mut tasks = self.list.lock();
        // SAFETY: as above.
        task.header()
            .alive_index
            .with_mut(|index| unsafe { *index = tasks.len() });
        tasks.push(task.as_ptr());
        true
    }

    /// Links a task taken from a queue at the end of the loop, unless it already finished.
    ///
    /// # Safety
    ///
    /// As for [`link`](LiveTasks::link), but the task may have finished.
    pub(crate) unsafe fn adopt(&self, task: &TaskRef) {
        if !task.header().state.load().is_finished() {
            // SAFETY: not finished (only the loop thread, this one, finishes a task), and the
            // caller vouches for the rest.
            let _ = unsafe { self.link(task) };
        }
    }

    /// Removes a task whose future is gone (or about to be dropped); the caller takes over
    /// the list's reference. Does nothing for a task the list never saw.
    pub(super) fn unlink(&self, ptr: NonNull<Header>) {
        // SAFETY: the caller holds a reference, so the header is alive; the index is only
        // touched on the loop thread.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: as above.
        let index = header
            .alive_index
            .with_mut(|index| unsafe { index.replace(UNLINKED) });
        if index == UNLINKED {
            return;
        }
        let mut tasks = self.list.lock();
        tasks.swap_remove(index);
        if let Some(moved) = tasks.get(index) {
            // SAFETY: every entry of the list is a live task; loop thread only.
            let moved = unsafe { moved.as_ref() };
            // SAFETY: as above.
            moved.alive_index.with_mut(|slot| unsafe { *slot = index });
        }
    }

    /// Takes every task out of the list, marking each unlinked; each comes with the list's
    /// reference.
    pub(super) fn take_all(&self) -> Vec<NonNull<Header>> {
        let tasks = std::mem::take(&mut *self.list.lock());
        for ptr in &tasks {
            // SAFETY: each entry owns a reference, so the header is alive; loop thread only.
            let header = unsafe { ptr.as_ref() };
            // SAFETY: as above.
            header
                .alive_index
                .with_mut(|index| unsafe { *index = UNLINKED });
        }
        tasks
    }
}

impl fmt::Debug for LiveTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveTasks")
            .field("len", &self.len())
            .finish()
    }
}
