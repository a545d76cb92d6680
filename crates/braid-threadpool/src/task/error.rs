use std::any::Any;
use std::fmt;
use std::sync::Mutex;

/// Why a task produced no value.
///
/// Returned by [`JoinHandle::join`](crate::JoinHandle::join) and friends when the task was
/// cancelled before it started, panicked, or was never run because the pool had been shut down.
///
/// # Examples
///
/// ```
/// use braid_threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(1)?;
/// let handle = pool.submit(|| -> u32 { panic!("no luck") });
/// let error = handle.join().unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(error.to_string(), "the task panicked: no luck");
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
pub struct JoinError {
    kind: Kind,
}

enum Kind {
    Cancelled,
    ShutDown,
    /// Behind a mutex only so that `JoinError` is `Sync` and fits in
    /// `Box<dyn Error + Send + Sync>`; the payload itself is `Send` only.
    Panic(Mutex<Box<dyn Any + Send>>),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            kind: Kind::Cancelled,
        }
    }

    pub(crate) fn shut_down() -> JoinError {
        JoinError {
            kind: Kind::ShutDown,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> JoinError {
        JoinError {
            kind: Kind::Panic(Mutex::new(payload)),
        }
    }

    /// True if the task was cancelled before it started, by
    /// [`JoinHandle::cancel`](crate::JoinHandle::cancel) or by
    /// [`Shutdown::CancelPending`](crate::Shutdown::CancelPending).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// True if the task was submitted after the pool was shut down, so it never ran.
    pub fn is_shut_down(&self) -> bool {
        matches!(self.kind, Kind::ShutDown)
    }

    /// True if the task panicked. [`JoinError::into_panic`] gives the payload.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panic(_))
    }

    /// The value the task panicked with, to inspect or to re-raise with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic; check [`JoinError::is_panic`] first or use
    /// [`JoinError::try_into_panic`].
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on an error that is not a panic")
    }

    /// The panic payload, or the error itself if the task did not panic.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the task was cancelled or shut down.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            Kind::Panic(payload) => Ok(payload
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
            kind => Err(JoinError { kind }),
        }
    }
}

/// The message of a panic payload, when it is a string.
fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("the task was cancelled before it started"),
            Kind::ShutDown => f.write_str(
                "the thread pool was shut down before the task was submitted; submit work before calling shutdown",
            ),
            Kind::Panic(payload) => {
                let payload = payload.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                match panic_message(&**payload) {
                    Some(message) => write!(f, "the task panicked: {message}"),
                    None => f.write_str("the task panicked"),
                }
            }
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("JoinError::Cancelled"),
            Kind::ShutDown => f.write_str("JoinError::ShutDown"),
            Kind::Panic(payload) => {
                let payload = payload
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                f.debug_tuple("JoinError::Panic")
                    .field(&panic_message(&**payload).unwrap_or("<non-string payload>"))
                    .finish()
            }
        }
    }
}

impl std::error::Error for JoinError {}
