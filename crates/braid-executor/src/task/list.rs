//! The loop's list of live tasks: every task whose future is still there, so that the end of
//! the loop can drop them all on its own thread, and [`TaskDump`] can show them.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr::NonNull;

use super::dump::{PollStats, TaskDump};
use super::raw::{Header, TaskRef, UNLINKED};

/// Every task whose future is still alive and that the loop has seen; each entry owns a
/// reference. Tasks know their index, so removal is a swap. It stays on its loop's thread (it
/// is neither `Send` nor `Sync`).
pub(crate) struct LiveTasks {
    tasks: RefCell<Vec<NonNull<Header>>>,
    /// The number the next task linked gets.
    next_id: Cell<u64>,
}

impl LiveTasks {
    pub(crate) fn with_capacity(capacity: usize) -> LiveTasks {
        LiveTasks {
            tasks: RefCell::new(Vec::with_capacity(capacity)),
            next_id: Cell::new(1),
        }
    }

    /// What every live task is doing now, `now` being the coarse clock's reading and
    /// `polling_since` when the poll in progress (if any) started.
    pub(crate) fn dump(&self, now: u64, polling_since: Option<u64>) -> TaskDump {
        let tasks = self.tasks.borrow();
        TaskDump::new(
            tasks
                .iter()
                // SAFETY: each entry owns a reference; loop thread only.
                .map(|ptr| PollStats::info(unsafe { ptr.as_ref() }, now, polling_since))
                .collect(),
            true,
        )
    }

    /// How many tasks are alive.
    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
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
        let ptr = task.as_ptr();
        // The index is looked at before the list is borrowed: every poll asks, and all but
        // a task's first say no.
        // SAFETY: the index is only touched on the loop thread, which this list is confined
        // to, and `task` keeps the header alive.
        let unlinked = task
            .header()
            .alive_index
            .with_mut(|index| unsafe { *index == UNLINKED });
        if !unlinked {
            return false;
        }
        let mut tasks = self.tasks.borrow_mut();
        let len = tasks.len();
        // SAFETY: as above.
        task.header()
            .alive_index
            .with_mut(|index| unsafe { *index = len });
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        task.header().stats.set_id(id);
        tasks.push(ptr);
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
        let mut tasks = self.tasks.borrow_mut();
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
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
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
