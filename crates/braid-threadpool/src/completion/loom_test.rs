//! A loom model of the completion protocol: a completer, a canceller and a waiting handle.

use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::Completion;

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts drops, to check that every value given to the cell is dropped exactly once.
struct Tracked(Arc<AtomicUsize>, u8);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn loom_complete_cancel_and_wait() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let cell = Arc::new(Completion::new());

        let completer = {
            let (cell, drops) = (cell.clone(), drops.clone());
            thread::spawn(move || {
                let value = Tracked(drops, 1);
                if cell.start() {
                    cell.complete(value);
                }
            })
        };
        let canceller = {
            let (cell, drops) = (cell.clone(), drops.clone());
            thread::spawn(move || {
                let value = Tracked(drops, 2);
                cell.cancel(value)
            })
        };

        let counter = StdArc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let first = cell.poll_take(&mut cx);

        completer.join().unwrap();
        let cancelled = canceller.join().unwrap();
        let wakes = counter.0.load(Ordering::SeqCst);
        let value = match first {
            Poll::Ready(value) => {
                assert_eq!(wakes, 0, "woken after it had its outcome");
                value
            }
            Poll::Pending => {
                assert_eq!(wakes, 1, "a pending handle is woken exactly once");
                match cell.poll_take(&mut cx) {
                    Poll::Ready(value) => value,
                    Poll::Pending => panic!("pending after the outcome was stored"),
                }
            }
        };
        assert_eq!(value.1, if cancelled { 2 } else { 1 });
        // The loser's value was dropped by its own thread already.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(value);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}
