//! Which loop, if any, runs on this thread.

use std::cell::Cell;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use super::core::Core;
use super::shared::Shared;
use crate::task::TaskRef;

thread_local! {
    /// The loop running on this thread: set by `block_on` (and while a loop shuts down).
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Marks `core` as this thread's running loop until dropped, restoring what was there.
pub(crate) struct Enter {
    previous: *const Core,
}

impl Enter {
    /// # Panics
    ///
    /// If another loop already runs on this thread (`block_on` inside a task) and
    /// `nested_ok` is false.
    pub(crate) fn new(core: &Rc<Core>, nested_ok: bool) -> Enter {
        let previous = CURRENT.with(|current| current.replace(Rc::as_ptr(core)));
        if !previous.is_null() && !nested_ok {
            CURRENT.with(|current| current.set(previous));
            panic!(
                "EventLoop::block_on was called inside a running braid event loop; \
                 await the future (or spawn it) instead of blocking the loop's thread"
            );
        }
        Enter { previous }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Runs `f` with the loop running on this thread, if any. Always inlined: it is one
/// thread-local read, and as a call of its own it cost every socket operation a frame.
#[inline(always)]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    let core = CURRENT.with(Cell::get);
    // SAFETY: `CURRENT` is non-null only while an `Enter` guard is alive, and the guard's
    // creator holds an `Rc<Core>` for that long.
    f(unsafe { core.as_ref() })
}

/// Whether the loop that owns `shared` runs on this thread.
pub(crate) fn is_current(shared: &Shared) -> bool {
    with_current(|core| core.is_some_and(|core| ptr::eq(Arc::as_ptr(&core.shared), shared)))
}

/// Pushes `task` onto the local run queue if its loop runs on this thread; hands it back
/// otherwise.
pub(crate) fn schedule_local(shared: &Shared, task: TaskRef) -> Result<(), TaskRef> {
    with_current(|core| match core {
        Some(core) if ptr::eq(Arc::as_ptr(&core.shared), shared) => {
            core.push_local(task);
            Ok(())
        }
        _ => Err(task),
    })
}

/// A counted reference to the loop running on this thread.
pub(crate) fn current_rc() -> Option<Rc<Core>> {
    let core = CURRENT.with(Cell::get);
    if core.is_null() {
        return None;
    }
    // SAFETY: `core` came from `Rc::as_ptr` of an `Rc` that is alive while it is current
    // (see `with_current`); taking one more strong count keeps it alive for the result.
    unsafe {
        Rc::increment_strong_count(core);
        Some(Rc::from_raw(core))
    }
}

#[cold]
#[track_caller]
pub(crate) fn no_loop(what: &str) -> ! {
    panic!(
        "{what} must be called from inside a running braid event loop \
         (within braid_executor::run or EventLoop::block_on)"
    )
}
