//! A loom model of one task's life with every outside party racing the loop.
//!
//! The real task block (header, state word, stage, vtable) runs with a scheduler that only
//! queues, and the real loop-side harness drives it. One thread wakes the task, one cancels
//! it, one polls the handle once and drops it, while the model's main thread plays the loop:
//! it runs what is queued, joins the others, runs what is queued again, then ends like a loop
//! does, dropping whatever future is left. Whatever the interleaving, the block must be freed
//! exactly once, the future dropped exactly once, the output (if any) dropped exactly once,
//! and a handle that saw `Pending` must have been woken exactly once.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p braid-executor --release --lib loom`

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::Mutex;
use loom::thread;

use super::raw::Header;
use super::{spawn, JoinError, LiveTasks, Schedule, TaskRef};

/// What happened to the pieces of one task, counted across the model's threads. The counts
/// are plain atomics: loom explores the task's own atomics, these only tally.
#[derive(Default)]
struct Counts {
    /// The block was freed (its scheduler dropped).
    freed: AtomicUsize,
    /// The future was dropped.
    futures_dropped: AtomicUsize,
    /// The future returned an output.
    outputs_made: AtomicUsize,
    /// An output was dropped.
    outputs_dropped: AtomicUsize,
    /// The handle's waker was woken.
    awaiter_woken: AtomicUsize,
}

impl Counts {
    fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// The loop's run queue, as wakes and cancels from any thread see it.
struct RunQueue(Mutex<VecDeque<TaskRef>>);

impl RunQueue {
    fn pop(&self) -> Option<TaskRef> {
        self.0.lock().unwrap().pop_front()
    }
}

/// A scheduler that only queues; it lives in the task block, so its drop marks the free.
struct Queue {
    queue: Arc<RunQueue>,
    counts: Arc<Counts>,
}

impl Schedule for Queue {
    fn schedule(&self, task: TaskRef) {
        self.queue.0.lock().unwrap().push_back(task);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        Counts::bump(&self.counts.freed);
    }
}

/// Returns `Pending` on its first poll (without waking itself) and its output on the second,
/// so it completes only if the waking thread's wake comes after the first poll.
struct Work {
    polled: bool,
    counts: Arc<Counts>,
}

impl Future for Work {
    type Output = Result<Output, JoinError>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.polled {
            self.polled = true;
            return Poll::Pending;
        }
        Counts::bump(&self.counts.outputs_made);
        Poll::Ready(Ok(Output(self.counts.clone())))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        Counts::bump(&self.counts.futures_dropped);
    }
}

struct Output(Arc<Counts>);

impl Drop for Output {
    fn drop(&mut self) {
        Counts::bump(&self.0.outputs_dropped);
    }
}

/// The handle's waker.
struct Awaiter(Arc<Counts>);

impl Wake for Awaiter {
    fn wake(self: Arc<Self>) {
        Counts::bump(&self.0.awaiter_woken);
    }
}

/// Runs what is queued, as one turn of the loop does.
fn run_queued(queue: &RunQueue, live: &LiveTasks) {
    while let Some(task) = queue.pop() {
        // SAFETY: the model's main thread is the task's loop thread, and `live` its list.
        let Some(mut running) = (unsafe { task.start(live) }) else {
            continue;
        };
        if running.poll().is_ready() {
            running.complete(live);
        } else if let Some(task) = running.park() {
            queue.0.lock().unwrap().push_back(task);
        }
    }
}

#[test]
fn loom_wake_cancel_complete_and_drop_handle_race() {
    let mut builder = loom::model::Builder::new();
    // Two preemptions (unless `LOOM_MAX_PREEMPTIONS` says otherwise) keep the model to
    // seconds on two cores; three takes minutes.
    builder.preemption_bound = builder.preemption_bound.or(Some(2));
    builder.check(|| {
        let counts = Arc::new(Counts::default());
        let queue = Arc::new(RunQueue(Mutex::new(VecDeque::new())));
        let live = LiveTasks::with_capacity(1);
        let work = Work {
            polled: false,
            counts: counts.clone(),
        };
        let scheduler = Queue {
            queue: queue.clone(),
            counts: counts.clone(),
        };
        let (mut task, queued) = spawn(work, scheduler, Location::caller());
        // SAFETY: a fresh task, and this thread is its loop's.
        assert!(unsafe { live.link(&queued) });
        let waker = queued.waker();
        let canceller = queued.clone_ref();
        queue.0.lock().unwrap().push_back(queued);

        let waking = thread::spawn(move || waker.wake());
        let cancelling = thread::spawn(move || {
            // SAFETY: `canceller` holds a reference for the call.
            unsafe { Header::cancel(canceller.as_ptr()) };
            drop(canceller);
        });
        let awaiter_counts = counts.clone();
        let awaiting = thread::spawn(move || {
            let waker = Waker::from(Arc::new(Awaiter(awaiter_counts)));
            let mut cx = Context::from_waker(&waker);
            let pending = match Pin::new(&mut task).poll(&mut cx) {
                Poll::Ready(output) => {
                    drop(output);
                    false
                }
                Poll::Pending => true,
            };
            drop(task);
            pending
        });

        run_queued(&queue, &live);
        waking.join().unwrap();
        cancelling.join().unwrap();
        let saw_pending = awaiting.join().unwrap();
        run_queued(&queue, &live);
        // The end of the loop: drop the future if it is still there.
        let _ = live.drop_all();
        assert!(queue.pop().is_none(), "nothing is queued after the end");

        assert_eq!(Counts::get(&counts.freed), 1, "the block is freed once");
        assert_eq!(Counts::get(&counts.futures_dropped), 1);
        let outputs = Counts::get(&counts.outputs_made);
        assert!(outputs <= 1);
        assert_eq!(
            Counts::get(&counts.outputs_dropped),
            outputs,
            "an output is dropped exactly once"
        );
        let woken = Counts::get(&counts.awaiter_woken);
        if saw_pending {
            assert_eq!(woken, 1, "a waiting handle is woken when the task finishes");
        } else {
            assert_eq!(woken, 0);
        }
    });
}
