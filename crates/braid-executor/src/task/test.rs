//! Who drops a task's output, who gives up which reference, and who is woken, read straight
//! from the state word.

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn};
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::raw::Header;
use super::state::Snapshot;
use super::Task;
use crate::sync::testing::{poll_with, WakeCounter};
use crate::{yield_now, EventLoop};

/// Counts its drops: proves an output was dropped exactly once.
struct Output(Rc<Cell<usize>>);

impl Drop for Output {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A task's header together with a clone of the task's own waker, which holds one reference
/// so the state word can still be read once the loop and the handle gave theirs up.
struct Watch {
    header: NonNull<Header>,
    _waker: Rc<RefCell<Option<Waker>>>,
}

impl Watch {
    fn state(&self) -> Snapshot {
        // SAFETY: the kept waker holds a reference, so the header is alive.
        unsafe { self.header.as_ref() }.state.load()
    }

    fn refs(&self) -> usize {
        self.state().ref_count()
    }

    /// Completed (not dropped), and the handle is gone.
    fn completed_without_handle(&self) -> bool {
        let state = self.state();
        state.is_completed() && !state.is_dropped() && !state.has_handle()
    }
}

/// Spawns a task that keeps a clone of its waker, then finishes with an [`Output`] counting
/// into `drops` (or waits forever, if `finish` is false).
fn spawn_watched(
    event_loop: &EventLoop,
    drops: &Rc<Cell<usize>>,
    finish: bool,
) -> (Task<Output>, Watch) {
    let slot = Rc::new(RefCell::new(None));
    let (kept, drops) = (slot.clone(), drops.clone());
    let task = event_loop.spawn(async move {
        poll_fn(|cx| {
            *kept.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
        if !finish {
            pending::<()>().await;
        }
        Output(drops)
    });
    let watch = Watch {
        header: task.header,
        _waker: slot,
    };
    (task, watch)
}

#[test]
fn an_awaited_handle_gives_up_its_reference_and_the_handle_bit() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (task, watch) = spawn_watched(&event_loop, &drops, true);
    let output = event_loop.block_on(task).unwrap();
    assert_eq!(drops.get(), 0, "the output was moved out, not dropped");
    drop(output);
    assert_eq!(drops.get(), 1);
    assert!(watch.completed_without_handle());
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}

#[test]
fn a_handle_dropped_after_completion_drops_the_output_once() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (task, watch) = spawn_watched(&event_loop, &drops, true);
    event_loop.block_on(yield_now());
    assert!(task.is_finished());
    assert_eq!(drops.get(), 0, "the loop keeps the output for the handle");
    assert!(!watch.state().is_awaited(), "nobody awaited the task");
    drop(task);
    assert_eq!(drops.get(), 1, "the handle dropped the output");
    assert!(!watch.state().has_handle());
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}

#[test]
fn a_handle_dropped_before_completion_leaves_the_output_to_the_loop() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (task, watch) = spawn_watched(&event_loop, &drops, true);
    drop(task);
    assert!(!watch.state().has_handle());
    event_loop.block_on(yield_now());
    assert!(watch.completed_without_handle());
    assert_eq!(
        drops.get(),
        1,
        "the loop dropped the output nobody can read"
    );
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}

#[test]
fn a_cancelled_task_whose_handle_is_gone_keeps_no_reference() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (task, watch) = spawn_watched(&event_loop, &drops, false);
    event_loop.block_on(yield_now());
    assert!(task.cancel());
    drop(task);
    // A cancel from outside the loop goes through the remote queue: give it turns.
    event_loop.block_on(async {
        while !watch.state().is_finished() {
            yield_now().await;
        }
    });
    let state = watch.state();
    assert!(state.is_dropped() && !state.is_completed() && !state.has_handle());
    assert_eq!(drops.get(), 0, "a cancelled task has no output");
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}

#[test]
fn the_awaiter_is_woken_once_when_the_task_completes() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (mut task, watch) = spawn_watched(&event_loop, &drops, true);
    let (counter, waker) = WakeCounter::new();
    assert!(poll_with(&mut task, &waker).is_pending());
    assert!(watch.state().is_awaited());
    assert_eq!(counter.count(), 0);
    event_loop.block_on(yield_now());
    assert_eq!(counter.count(), 1);
    let Poll::Ready(Ok(output)) = poll_with(&mut task, &waker) else {
        panic!("a completed task gives its output");
    };
    drop(output);
    drop(task);
    assert_eq!(drops.get(), 1);
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}

#[test]
fn the_awaiter_is_woken_when_the_task_is_cancelled() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (mut task, _watch) = spawn_watched(&event_loop, &drops, false);
    let (counter, waker) = WakeCounter::new();
    assert!(poll_with(&mut task, &waker).is_pending());
    event_loop.block_on(yield_now());
    assert_eq!(counter.count(), 0, "the task still waits");
    task.cancel();
    event_loop.block_on(async {
        while !task.is_finished() {
            yield_now().await;
        }
    });
    assert_eq!(counter.count(), 1);
    let Poll::Ready(Err(error)) = poll_with(&mut task, &waker) else {
        panic!("a cancelled task reports it");
    };
    assert!(error.is_cancelled());
}

#[test]
fn poll_finished_wakes_and_leaves_the_output_in_place() {
    let event_loop = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (task, watch) = spawn_watched(&event_loop, &drops, true);
    let (counter, waker) = WakeCounter::new();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(task.poll_finished(&mut cx).is_pending());
    assert_eq!(task.failed(), None, "still running");
    event_loop.block_on(yield_now());
    assert_eq!(counter.count(), 1);
    assert!(task.poll_finished(&mut cx).is_ready());
    assert_eq!(task.failed(), Some(false));
    assert_eq!(drops.get(), 0, "the output is still there");
    let output = event_loop.block_on(task).unwrap();
    drop(output);
    assert_eq!(drops.get(), 1);
    assert_eq!(watch.refs(), 1, "only the kept waker is left");
}
