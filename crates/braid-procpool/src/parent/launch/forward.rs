//! Passing a launcher's standard error on to this process's, off the supervisor thread: a
//! standard error that nobody reads (a stalled pipe, a pager) must not stop the pool.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Sender, TrySendError};

/// Whole lines waiting to be written at most; more are dropped, and said so once.
const WAITING: usize = 1024;

/// A thread that writes what it is given to this process's standard error.
#[derive(Debug)]
pub(crate) struct Forwarder {
    lines: Sender<Vec<u8>>,
    dropped: AtomicBool,
}

impl Forwarder {
    /// Starts the thread; it ends once the forwarder is dropped and all it was given is
    /// written (or the write fails).
    pub(crate) fn start() -> std::io::Result<Forwarder> {
        let (lines, waiting) = crossbeam_channel::bounded::<Vec<u8>>(WAITING);
        std::thread::Builder::new()
            .name("braid-procpool-stderr".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let stderr = std::io::stderr();
                for chunk in waiting {
                    if stderr.lock().write_all(&chunk).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Forwarder {
            lines,
            dropped: AtomicBool::new(false),
        })
    }

    /// Queues whole lines for standard error, never waiting: when the writer is that far
    /// behind, they are dropped.
    pub(crate) fn send(&self, lines: Vec<u8>) {
        if lines.is_empty() {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.lines.try_send(lines) {
            if !self.dropped.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "braid-procpool: this process's standard error is not being read fast \
                     enough; some of the workers' output to it was dropped"
                );
            }
        }
    }
}
