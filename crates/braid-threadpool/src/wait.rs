//! Blocking a thread until a [`Waker`] fires, without stalling the pool when the thread is a
//! worker.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::latch::CoreLatch;
use crate::pool::Shared;
use crate::worker::WorkerThread;

/// Blocks the thread that created it until its waker is woken.
///
/// On a worker thread it runs other jobs of its own pool meanwhile (and sleeps in the pool's
/// sleep when there are none), so a task waiting for another task cannot starve the pool;
/// elsewhere it parks the thread.
#[derive(Debug)]
pub(crate) struct Waiter {
    signal: Arc<Signal>,
    waker: Waker,
}

#[derive(Debug)]
struct Signal {
    latch: CoreLatch,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Worker(Arc<Shared>),
    Thread(Thread),
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match &self.target {
            // SAFETY: the latch lives inside this `Arc`, which outlives the call.
            Target::Worker(shared) => unsafe { CoreLatch::set(&self.latch, &shared.sleep) },
            Target::Thread(thread) => {
                self.latch.set_unslept();
                thread.unpark();
            }
        }
    }
}

impl Waiter {
    pub(crate) fn new() -> Waiter {
        match WorkerThread::current_pool() {
            Some(shared) => Waiter::with_target(Target::Worker(shared)),
            None => Waiter::parking(),
        }
    }

    /// A waiter that parks its thread even on a pool worker, running nothing else meanwhile.
    pub(crate) fn parking() -> Waiter {
        Waiter::with_target(Target::Thread(thread::current()))
    }

    fn with_target(target: Target) -> Waiter {
        let signal = Arc::new(Signal {
            latch: CoreLatch::new(),
            target,
        });
        let waker = Waker::from(signal.clone());
        Waiter { signal, waker }
    }

    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Blocks until the waker was woken since the last call, or `deadline` passes (false).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        let latch = &self.signal.latch;
        let woken = match &self.signal.target {
            Target::Worker(shared) => match WorkerThread::current_in(shared) {
                Some(worker) => worker.wait_until(latch, deadline),
                None => unreachable!("a Waiter is used on the thread that created it"),
            },
            Target::Thread(_) => loop {
                if latch.probe() {
                    break true;
                }
                match deadline {
                    None => thread::park(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break latch.probe();
                        }
                        thread::park_timeout(deadline - now);
                    }
                }
            },
        };
        if woken {
            latch.reset();
        }
        woken
    }
}

/// Runs `future` to completion on this thread, blocking between polls: braid's one way for
/// a plain thread to wait for a future.
///
/// On a worker thread of a braid thread pool the worker runs other jobs of its pool while it
/// waits, so waiting for work queued behind it cannot deadlock the pool; elsewhere the thread
/// parks until the future's waker is woken. It runs nothing else: a future that needs an
/// event loop (a socket, a timer) must be awaited on that loop or handed to it.
///
/// # Examples
///
/// ```
/// let pool = braid_threadpool::ThreadPool::new(1)?;
/// let handle = pool.submit(|| 6 * 7);
/// assert_eq!(braid_threadpool::block_on(handle).unwrap(), 42);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waiter = Waiter::new();
    let mut cx = Context::from_waker(waiter.waker());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        waiter.wait(None);
    }
}
