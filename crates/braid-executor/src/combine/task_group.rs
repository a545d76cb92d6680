use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use futures::FutureExt;

use crate::task::Task;

/// Tasks that succeed or fail together (Python's `asyncio.TaskGroup`).
///
/// Each task returns `Result<T, E>`. [`join`](TaskGroup::join) waits for all of them,
/// including tasks spawned while it waits, and gives their outputs in spawn order.
///
/// The first failure (an `Err`, a panic, or a member cancelled from outside) cancels the
/// other members **as soon as it happens**, whether or not `join` is being awaited yet; `join`
/// then waits until their futures are dropped and returns that first failure, never a later
/// one. A member spawned after the group failed is dropped without being run, as asyncio
/// refuses new tasks in a group that is shutting down.
///
/// A `TaskGroup` is a cheap handle: [`Clone`] gives another handle to the same group, so a
/// member can hold one and [`spawn`](TaskGroup::spawn) siblings, which `join` waits for too.
/// Dropping the last handle, or a `join` future before it finished, cancels the members
/// still running. A member that holds a handle keeps the group alive while it runs, so to
/// stop such a group from outside, drop its `join` future (for example with a
/// [`timeout`](crate::timeout)); when the loop ends, every member is dropped regardless.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{sleep, TaskGroup};
///
/// braid_executor::run(async {
///     let group = TaskGroup::new();
///     group.spawn(async { Ok::<_, String>(1) });
///     let handle = group.clone();
///     group.spawn(async move {
///         // A member adds a sibling; `join` waits for it as well.
///         handle.spawn(async { Ok(3) });
///         Ok(2)
///     });
///     assert_eq!(group.join().await.unwrap(), vec![1, 2, 3]);
///
///     let group = TaskGroup::new();
///     group.spawn(async { sleep(Duration::from_secs(3600)).await; Ok(1) });
///     group.spawn(async { Err("no luck".to_string()) });
///     let error = group.join().await.unwrap_err();
///     assert_eq!(error.into_failure(), Some("no luck".to_string()));
/// });
/// ```
pub struct TaskGroup<T, E> {
    inner: Rc<RefCell<Inner<T, E>>>,
}

/// The state all handles of one group share.
struct Inner<T, E> {
    /// Each member's task, in spawn order, until it finishes; kept to cancel it.
    tasks: Vec<Option<Task<()>>>,
    /// Each member's output, in spawn order, once it has one.
    outputs: Vec<Option<T>>,
    /// Members whose future is still alive.
    running: usize,
    /// The first failure; once set, the group spawns nothing more.
    failure: Option<TaskGroupError<E>>,
    /// The `join` waiting for `running` to reach zero.
    joiner: Option<Waker>,
    /// A `join` has returned: the group is finished.
    joined: bool,
}

impl<T, E> Inner<T, E> {
    /// Takes the handles of the members still running, for the caller to cancel once it has
    /// released the borrow (a cancel never drops a future at once, but stay safe from it).
    fn take_running(&mut self) -> Vec<Task<()>> {
        self.tasks.iter_mut().filter_map(Option::take).collect()
    }
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    pub fn new() -> TaskGroup<T, E> {
        TaskGroup {
            inner: Rc::new(RefCell::new(Inner {
                tasks: Vec::new(),
                outputs: Vec::new(),
                running: 0,
                failure: None,
                joiner: None,
                joined: false,
            })),
        }
    }

    /// Spawns `future` on the running loop as a member of the group; it starts at once,
    /// whether or not `join` is awaited yet. Any handle of the group may spawn, a member
    /// included. If the group has already failed, `future` is dropped without being run.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop, or after a [`join`](TaskGroup::join) of this group
    /// returned: a finished group takes no new members (asyncio raises `RuntimeError`).
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        let index = {
            let mut inner = self.inner.borrow_mut();
            assert!(
                !inner.joined,
                "TaskGroup::spawn after join returned: the group is finished"
            );
            if inner.failure.is_some() {
                return;
            }
            inner.running += 1;
            inner.tasks.push(None);
            inner.outputs.push(None);
            inner.tasks.len() - 1
        };
        let mut member = Member {
            group: Rc::downgrade(&self.inner),
            index,
            finished: false,
        };
        let task = crate::spawn(async move {
            let result = AssertUnwindSafe(future).catch_unwind().await;
            member.finish(result);
        });
        let mut inner = self.inner.borrow_mut();
        if inner.failure.is_none() {
            inner.tasks[index] = Some(task);
        } else {
            // Unreachable on one thread today, but cheap to keep right: cancel what failed.
            drop(inner);
            task.cancel();
        }
    }

    /// How many tasks were spawned in the group.
    pub fn len(&self) -> usize {
        self.inner.borrow().outputs.len()
    }

    /// Whether no task was spawned in the group.
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().outputs.is_empty()
    }

    /// Waits for every task, those spawned while it waits included; returns their outputs
    /// in spawn order.
    ///
    /// # Errors
    ///
    /// The first failure, after the other tasks were cancelled and their futures dropped:
    /// [`TaskGroupError`] holding the task's `Err`, its panic, or the news that it was
    /// cancelled from outside the group.
    ///
    /// # Panics
    ///
    /// If another handle's `join` of the same group already returned.
    pub fn join(self) -> impl Future<Output = Result<Vec<T>, TaskGroupError<E>>> {
        // Made before the first poll, so that dropping an unpolled `join` cancels too.
        let mut guard = JoinGuard {
            group: self,
            done: false,
        };
        async move {
            poll_fn(|cx| {
                let mut inner = guard.group.inner.borrow_mut();
                if inner.running == 0 {
                    Poll::Ready(())
                } else {
                    inner.joiner = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            guard.done = true;
            let mut inner = guard.group.inner.borrow_mut();
            assert!(
                !inner.joined,
                "TaskGroup::join: another handle of this group already joined it"
            );
            inner.joined = true;
            inner.joiner = None;
            match inner.failure.take() {
                Some(error) => Err(error),
                None => Ok(std::mem::take(&mut inner.outputs)
                    .into_iter()
                    .flatten()
                    .collect()),
            }
        }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> TaskGroup<T, E> {
        TaskGroup::new()
    }
}

impl<T, E> Clone for TaskGroup<T, E> {
    /// Another handle to the same group.
    fn clone(&self) -> TaskGroup<T, E> {
        TaskGroup {
            inner: self.inner.clone(),
        }
    }
}

impl<T, E> Drop for Inner<T, E> {
    fn drop(&mut self) {
        // The last handle is gone (members hold only weak links): nobody can join any more.
        for task in self.take_running() {
            task.cancel();
        }
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("TaskGroup")
            .field("tasks", &inner.outputs.len())
            .field("running", &inner.running)
            .field("failed", &inner.failure.is_some())
            .finish()
    }
}

/// A member's link to its group: records how the member ended, whether it finished or its
/// future was dropped (cancelled from outside, or by the group).
struct Member<T, E> {
    /// Weak, so that only handles keep the group, and dropping the last one cancels.
    group: Weak<RefCell<Inner<T, E>>>,
    index: usize,
    finished: bool,
}

impl<T, E> Member<T, E> {
    fn finish(&mut self, result: Result<Result<T, E>, Box<dyn Any + Send + 'static>>) {
        self.finished = true;
        let error = match result {
            Ok(Ok(value)) => {
                if let Some(group) = self.group.upgrade() {
                    let mut inner = group.borrow_mut();
                    inner.outputs[self.index] = Some(value);
                    inner.tasks[self.index] = None;
                }
                self.ended();
                return;
            }
            Ok(Err(error)) => TaskGroupError::Failed(error),
            Err(payload) => TaskGroupError::Panicked(payload),
        };
        self.failed(error);
        self.ended();
    }

    /// The first failure cancels every other member now, not when `join` looks.
    fn failed(&self, error: TaskGroupError<E>) {
        let Some(group) = self.group.upgrade() else {
            return;
        };
        let mut inner = group.borrow_mut();
        inner.tasks[self.index] = None;
        if inner.failure.is_some() {
            return;
        }
        inner.failure = Some(error);
        let siblings = inner.take_running();
        drop(inner);
        for task in siblings {
            task.cancel();
        }
    }

    /// The member's future is gone: one fewer for `join` to wait for.
    fn ended(&self) {
        let Some(group) = self.group.upgrade() else {
            return;
        };
        let mut inner = group.borrow_mut();
        inner.running -= 1;
        let joiner = if inner.running == 0 {
            inner.joiner.take()
        } else {
            None
        };
        drop(inner);
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }
}

impl<T, E> Drop for Member<T, E> {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped unfinished: cancelled by the group (a failure is recorded already, so
            // this one is not) or from outside, which fails the group.
            self.failed(TaskGroupError::Cancelled);
            self.ended();
        }
    }
}

/// Cancels the members still running if the `join` future is dropped before it finished.
struct JoinGuard<T, E> {
    group: TaskGroup<T, E>,
    done: bool,
}

impl<T, E> Drop for JoinGuard<T, E> {
    fn drop(&mut self) {
        if !self.done {
            let running = self.group.inner.borrow_mut().take_running();
            for task in running {
                task.cancel();
            }
        }
    }
}

/// Why [`TaskGroup::join`] failed.
#[non_exhaustive]
pub enum TaskGroupError<E> {
    /// A task returned this error.
    Failed(E),
    /// A task panicked with this payload.
    Panicked(Box<dyn Any + Send + 'static>),
    /// A task was cancelled from outside the group.
    Cancelled,
}

impl<E> TaskGroupError<E> {
    /// The task's own error, if that is what failed.
    pub fn into_failure(self) -> Option<E> {
        match self {
            TaskGroupError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether a task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskGroupError::Panicked(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for TaskGroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskGroupError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            TaskGroupError::Panicked(_) => f.write_str("Panicked(..)"),
            TaskGroupError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TaskGroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskGroupError::Failed(error) => {
                write!(
                    f,
                    "a task of the group failed, so the others were cancelled: {error}"
                )
            }
            TaskGroupError::Panicked(_) => {
                f.write_str("a task of the group panicked, so the others were cancelled")
            }
            TaskGroupError::Cancelled => f.write_str(
                "a task of the group was cancelled from outside, so the others were cancelled too",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TaskGroupError<E> {}
