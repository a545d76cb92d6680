//! Sending a closure to a loop and building the task's future there.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future made on the loop that runs it, by a closure sent there.
///
/// The future itself may be `!Send` (hold an `Rc`, a `Child`): it comes into being on the
/// loop thread, at the first poll, and never leaves it.
pub(crate) struct BuiltOnLoop<F, Fut> {
    stage: Stage<F, Fut>,
}

enum Stage<F, Fut> {
    Closure(F),
    Future(Fut),
    /// The closure panicked; the task has finished with that panic.
    Failed,
}

impl<F, Fut> BuiltOnLoop<F, Fut> {
    pub(crate) fn new(make: F) -> BuiltOnLoop<F, Fut> {
        BuiltOnLoop {
            stage: Stage::Closure(make),
        }
    }
}

// SAFETY: a `BuiltOnLoop` is only ever given to `Handle::spawn`, which moves it to its loop
// while it still holds the closure (which is `Send`). The future is made by the first poll,
// on the loop thread, and from then on the task is polled and dropped only there: a loop
// never hands its tasks' futures to another thread. The only drop off the loop is
// `Handle::spawn`'s when the loop has already ended, which happens before any poll.
unsafe impl<F: Send, Fut> Send for BuiltOnLoop<F, Fut> {}

impl<F, Fut> Future for BuiltOnLoop<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        // SAFETY: the future in `Stage::Future` is never moved: it is only reached through
        // the pinned reference below and is dropped in place. The closure is not structurally
        // pinned, so moving it out is fine.
        let stage = unsafe { &mut self.get_unchecked_mut().stage };
        if matches!(stage, Stage::Closure(_)) {
            let Stage::Closure(make) = mem::replace(stage, Stage::Failed) else {
                unreachable!("the stage was just matched as a closure");
            };
            *stage = Stage::Future(make());
        }
        match stage {
            // SAFETY: see above; `self` is pinned, so its field is too.
            Stage::Future(future) => unsafe { Pin::new_unchecked(future) }.poll(cx),
            Stage::Closure(_) | Stage::Failed => {
                unreachable!("a task is not polled again after its closure panicked")
            }
        }
    }
}

impl<F, Fut> fmt::Debug for BuiltOnLoop<F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Closure(_) => "closure",
            Stage::Future(_) => "future",
            Stage::Failed => "failed",
        };
        f.debug_struct("BuiltOnLoop")
            .field("stage", &stage)
            .finish()
    }
}

/// Why [`Runtime::spawn_on`](super::Runtime::spawn_on) could not spawn; the closure was
/// dropped without running.
///
/// # Examples
///
/// ```
/// use braid_executor::runtime::{Runtime, SpawnOnError};
///
/// let runtime = Runtime::builder().loops(2).build()?;
/// let error = runtime.spawn_on(7, || async {}).unwrap_err();
/// assert_eq!(error, SpawnOnError::NoSuchLoop { index: 7, loops: 2 });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnOnError {
    /// The runtime has no loop with this index: loops are numbered from 0 to `loops - 1`.
    NoSuchLoop {
        /// The index asked for.
        index: usize,
        /// How many loops the runtime has.
        loops: usize,
    },
    /// The loop has ended: its thread died of a panic outside any task (a panicking waker,
    /// say). The other loops go on.
    LoopEnded {
        /// The index of the loop.
        index: usize,
    },
}

impl fmt::Display for SpawnOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SpawnOnError::NoSuchLoop { index, loops } => write!(
                f,
                "the runtime has no loop {index}: it has {loops} loop(s), numbered from 0 to {}",
                loops.saturating_sub(1)
            ),
            SpawnOnError::LoopEnded { index } => write!(
                f,
                "loop {index} of the runtime has ended (its thread panicked); spawn on another \
                 loop, or build a new runtime"
            ),
        }
    }
}

impl std::error::Error for SpawnOnError {}
