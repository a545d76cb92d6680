//! Reaping children whose [`Child`](super::Child) was dropped before they exited.
//!
//! A dropped child that is still running is handed to a small task on the loop that waits
//! for its exit the same way [`Child::wait`](super::Child::wait) would, and reaps it, so it
//! does not stay a zombie. When no loop runs to do that (the `Child` was dropped after the
//! loop stopped, or that task was cancelled because the loop ended), its pid goes on a
//! process-wide list that is swept with `waitpid(pid, WNOHANG)` whenever a child is spawned
//! or dropped and whenever `SIGCHLD` arrives for a waiting child. Only pids on the list are
//! waited for: never `waitpid(-1)`, which would take other code's children.

use std::future::poll_fn;
use std::sync::{Mutex, PoisonError};

use super::exit::{try_reap, ExitWatch};

/// Pids of dropped children that had not exited and that no loop watches.
static ORPHANS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Puts `pid` on the list to be reaped by a later sweep.
pub(super) fn adopt(pid: u32) {
    ORPHANS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(pid);
}

/// Reaps `process` now if it has exited, and later through the list otherwise.
pub(super) fn abandon(mut process: std::process::Child) {
    if matches!(process.try_wait(), Ok(None)) {
        adopt(process.id());
    }
}

/// Reaps the listed children that have exited.
pub(super) fn reap() {
    let mut orphans = ORPHANS.lock().unwrap_or_else(PoisonError::into_inner);
    if orphans.is_empty() {
        return;
    }
    // An error other than "not our child" leaves the pid for the next sweep.
    orphans.retain(|&pid| !matches!(try_reap(pid), Ok(true)));
}

/// Makes sure the still-running child `pid` is reaped once it exits: by a task on the
/// running loop when `watch` is there and its loop runs on this thread, by a later sweep
/// otherwise.
pub(super) fn watch_or_adopt(pid: u32, watch: Option<ExitWatch>, on_current_loop: bool) {
    match watch {
        Some(watch) if on_current_loop => {
            let mut orphan = Orphan {
                pid,
                watch: Some(watch),
            };
            crate::spawn(async move {
                poll_fn(|cx| orphan.poll_reap(cx)).await;
            })
            .detach();
        }
        watch => {
            drop(watch);
            adopt(pid);
        }
    }
}

/// A dropped child waited for by a task; put on the list if the task is cancelled first.
struct Orphan {
    pid: u32,
    /// `None` once reaped.
    watch: Option<ExitWatch>,
}

impl Orphan {
    fn poll_reap(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let pid = self.pid;
        if let Some(watch) = &mut self.watch {
            let reaped = std::task::ready!(
                watch.poll_exit(cx, || { try_reap(pid).map(|reaped| reaped.then_some(())) })
            );
            if let Err(error) = reaped {
                // Leave it to the sweeps rather than lose it.
                tracing::debug!("waiting for dropped child {pid} failed: {error}");
                adopt(pid);
            }
            self.watch = None;
        }
        std::task::Poll::Ready(())
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if self.watch.is_some() {
            adopt(self.pid);
        }
    }
}
