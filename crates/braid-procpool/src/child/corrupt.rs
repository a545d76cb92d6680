//! A worker that breaks the protocol on purpose, so that tests can see the parent cope.
//!
//! Reached through the hidden `braid_procpool::__test` module; nothing else calls it.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::protocol::broken;

/// The worker's results pipe; -1 outside a worker.
static RESULTS_FD: AtomicI32 = AtomicI32::new(-1);
/// Send a results message nobody asked for after the current task's own.
static UNOWNED_RESULT: AtomicBool = AtomicBool::new(false);

/// How [`corrupt_results`] breaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// A message with a tag the protocol does not have.
    UnknownTag,
    /// A frame length no frame may have.
    BadLength,
    /// A results message, right after the current task's own, for a task the worker does
    /// not hold.
    UnownedResult,
}

/// Called inside a task: makes this worker send its parent something that breaks the
/// protocol. Does nothing outside a worker.
pub fn corrupt_results(kind: Corruption) {
    let fd = RESULTS_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let frame = match kind {
        Corruption::UnknownTag => broken::unknown_tag(),
        Corruption::BadLength => broken::bad_length(),
        Corruption::UnownedResult => {
            UNOWNED_RESULT.store(true, Ordering::Relaxed);
            return;
        }
    };
    let _ = super::serve::write_frame(fd, &frame);
}

/// Remembers the worker's results pipe.
pub(super) fn set_results_fd(fd: RawFd) {
    RESULTS_FD.store(fd, Ordering::Relaxed);
}

/// Called after a task's results were written: sends what [`corrupt_results`] saved for
/// then.
pub(super) fn after_results() {
    if UNOWNED_RESULT.swap(false, Ordering::Relaxed) {
        let _ = super::serve::write_frame(
            RESULTS_FD.load(Ordering::Relaxed),
            &broken::unowned_results(),
        );
    }
}
