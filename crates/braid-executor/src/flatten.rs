//! [`Flatten`]: one `Result` from a task or a timeout whose future itself gives a `Result`.
//!
//! Awaiting a `Task<io::Result<T>>` gives `Result<io::Result<T>, JoinError>`, and a
//! `timeout` around an `io::Result` future gives `Result<io::Result<T>, Elapsed>`: two
//! layers, three with a timeout inside a task. [`Task::flatten`] and [`Timeout::flatten`]
//! fold the outer error into the inner one, through `From`, so each gives a plain
//! `Result<T, E>`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::task::{JoinError, Task};
use crate::time::{Elapsed, Timeout};

impl<T, E: From<JoinError>> Task<Result<T, E>> {
    /// A future of the task's own `Result`, with a panic or a cancel turned into `E`.
    ///
    /// Awaiting the `Task` itself gives `Result<Result<T, E>, JoinError>`; awaiting
    /// `task.flatten()` gives `Ok(value)`, the task's own error unchanged, or
    /// `E::from(join_error)`. For `std::io::Error`, a [`JoinError`] becomes an error of kind
    /// [`Other`](std::io::ErrorKind::Other) whose message says the task panicked or was
    /// cancelled. Inside an `async` block that returns `Result<_, E>`, `task.await??` does
    /// the same.
    ///
    /// The task runs whether or not the future is awaited; dropping the future detaches it,
    /// as dropping the `Task` does. [`Flatten::get_ref`] reaches the `Task`, to cancel it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// braid_executor::run(async {
    ///     let task = braid_executor::spawn(async { io::Result::Ok(42) });
    ///     assert_eq!(task.flatten().await.unwrap(), 42);
    ///
    ///     let task = braid_executor::spawn(async {
    ///         if true {
    ///             panic!("disk on fire");
    ///         }
    ///         io::Result::Ok(42)
    ///     });
    ///     let error = task.flatten().await.unwrap_err();
    ///     assert_eq!(error.kind(), io::ErrorKind::Other);
    ///     assert_eq!(error.to_string(), "the task panicked: disk on fire");
    /// });
    /// ```
    pub fn flatten(self) -> Flatten<Self> {
        Flatten { inner: self }
    }
}

impl<F, T, E> Timeout<F>
where
    F: Future<Output = Result<T, E>>,
    E: From<Elapsed>,
{
    /// A future of the inner future's own `Result`, with running out of time turned into `E`.
    ///
    /// Awaiting the `Timeout` itself gives `Result<Result<T, E>, Elapsed>`; awaiting
    /// `timeout(d, future).flatten()` gives `Ok(value)`, the future's own error unchanged,
    /// or `E::from(Elapsed)`: for `std::io::Error`, an error of kind
    /// [`TimedOut`](std::io::ErrorKind::TimedOut). Inside an `async` block that returns
    /// `Result<_, E>`, `timeout(d, future).await??` does the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use std::time::Duration;
    /// use braid_executor::timeout;
    ///
    /// braid_executor::run(async {
    ///     let never = std::future::pending::<io::Result<()>>();
    ///     let error = timeout(Duration::from_millis(1), never).flatten().await.unwrap_err();
    ///     assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    /// });
    /// ```
    pub fn flatten(self) -> Flatten<Self> {
        Flatten { inner: self }
    }
}

/// The future returned by [`Task::flatten`] and [`Timeout::flatten`]: the inner future's
/// `Result<Result<T, E>, X>`, given as `Result<T, E>` with `X` turned into `E`.
#[must_use = "a Flatten gives its result only when awaited; a task inside runs on, detached, if it is dropped"]
pub struct Flatten<F> {
    inner: F,
}

impl<F> Flatten<F> {
    /// The [`Task`] or [`Timeout`] inside, for instance to [`cancel`](Task::cancel) the task.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }

    /// The [`Task`] or [`Timeout`] inside, to await it unflattened after all.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F, T, E, X> Future for Flatten<F>
where
    F: Future<Output = Result<Result<T, E>, X>>,
    E: From<X>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        // SAFETY: `inner` is pinned structurally: `Flatten` never moves it out while pinned
        // (`into_inner` takes `self` by value, which a pinned `Flatten` cannot give unless
        // it is `Unpin`), has no `Drop` of its own, and is `Unpin` only when `F` is.
        let inner = unsafe { self.map_unchecked_mut(|flatten| &mut flatten.inner) };
        inner
            .poll(cx)
            .map(|outer| outer.map_err(E::from).and_then(|inner| inner))
    }
}

impl<F: fmt::Debug> fmt::Debug for Flatten<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flatten")
            .field("inner", &self.inner)
            .finish()
    }
}
