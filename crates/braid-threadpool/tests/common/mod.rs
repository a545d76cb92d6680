//! Shared by the integration tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Generous bound for anything that should finish: only there so a deadlock fails the test
/// instead of hanging it.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Runs `f` on its own thread and returns its result, failing the test if it does not finish
/// within [`HANG_GUARD`]. A panic in `f` is resumed here.
pub fn within_guard<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = mpsc::channel();
    let runner = thread::spawn(move || {
        let _ = sender.send(f());
    });
    match receiver.recv_timeout(HANG_GUARD) {
        Ok(value) => {
            runner.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("sender dropped without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {HANG_GUARD:?}: deadlock?")
        }
    }
}

/// A gate that tasks can wait on until the test opens it.
#[derive(Clone)]
pub struct Gate {
    inner: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            inner: Default::default(),
        }
    }

    pub fn open(&self) {
        *self.inner.0.lock().unwrap() = true;
        self.inner.1.notify_all();
    }

    /// Blocks until opened (or the hang guard passes, which panics).
    pub fn wait(&self) {
        let (lock, condvar) = &*self.inner;
        let guard = lock.lock().unwrap();
        let (guard, timeout) = condvar
            .wait_timeout_while(guard, HANG_GUARD, |open| !*open)
            .unwrap();
        assert!(*guard && !timeout.timed_out(), "gate never opened");
    }
}

/// Submits a task that holds one worker until `gate` opens, then returns `value`; returns once
/// that task is running, so the caller knows the worker is taken.
pub fn occupy_worker<T: Send + 'static>(
    pool: &braid_threadpool::ThreadPool,
    gate: &Gate,
    value: T,
) -> braid_threadpool::JoinHandle<T> {
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = {
        let (gate, started) = (gate.clone(), started.clone());
        pool.submit(move || {
            started.store(true, std::sync::atomic::Ordering::SeqCst);
            gate.wait();
            value
        })
    };
    wait_for(|| started.load(std::sync::atomic::Ordering::SeqCst));
    handle
}

/// Polls `condition` until it holds, failing after the hang guard.
pub fn wait_for(mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < HANG_GUARD, "condition never became true");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` inside the first halves of `levels` nested `join`s whose second halves stay pending
/// on the calling worker (private, unless a heartbeat offers them), and returns what it
/// returned.
pub fn below_pending<T: Send>(
    pool: &braid_threadpool::ThreadPool,
    levels: u32,
    f: impl FnOnce() -> T + Send,
) -> T {
    if levels == 0 {
        return f();
    }
    pool.join(|| below_pending(pool, levels - 1, f), || ()).0
}
