//! Shared by the integration tests: drop flags, a hang guard, and process-wide helpers.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sets its flag when dropped: proves a future was dropped (and where).
#[derive(Debug)]
pub struct DropFlag(pub Arc<AtomicBool>);

impl DropFlag {
    /// A flag and the guard that sets it.
    pub fn new() -> (DropFlag, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (DropFlag(flag.clone()), flag)
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts drops.
#[derive(Debug)]
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit` (a hang guard,
/// not a timing assertion).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => {
            worker.join().unwrap();
            value
        }
        // The worker panicked (and dropped the sender): pass its panic on.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker ended without sending"),
        },
        // Leave the hung thread behind; the test process ends with the test run.
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test hung for more than {limit:?}")
        }
    }
}

/// Serialises the tests of one test binary that look at the whole process (its descriptors,
/// its children, its signal dispositions). A test that failed while holding the lock leaves
/// nothing behind that matters, so a poisoned lock is taken as it is.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many descriptors the process has open.
#[cfg(target_os = "linux")]
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Makes sure this process may open `wanted` descriptors and returns the soft limit now in
/// force; fails the test, saying how to fix it, when even the hard limit is too low. A test
/// that needs many descriptors must not pass without having run.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    braid_sys::fd::raise_descriptor_limit(wanted).unwrap_or_else(|error| panic!("{error}"))
}

/// Collects what a `tracing` subscriber writes, to check a warning's text.
#[derive(Clone, Default)]
pub struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// A plain-text subscriber that writes here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
