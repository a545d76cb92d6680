use std::any::Any;
use std::fmt;

/// Why a [`Task`](crate::Task) gave no output: it was cancelled, or it panicked.
///
/// # Examples
///
/// ```
/// braid_executor::run(async {
///     let task = braid_executor::spawn(async { panic!("boom") });
///     let error: braid_executor::JoinError = task.await.unwrap_err();
///     assert!(error.is_panic());
///     let payload = error.into_panic();
///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// });
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic {
        payload: SyncPayload,
        /// The panic message, read once when the panic is caught, so that `Display` never
        /// has to look into the payload through a shared reference.
        message: Option<String>,
    },
}

/// A panic payload that is only ever moved, never borrowed.
struct SyncPayload(Box<dyn Any + Send + 'static>);

// SAFETY: `JoinError` never hands out or takes a shared reference to the payload; it is only
// moved out by value (`into_panic`), so sharing a `&JoinError` between threads cannot reach
// the payload's (possibly non-`Sync`) contents.
unsafe impl Sync for SyncPayload {}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| message.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            repr: Repr::Panic {
                payload: SyncPayload(payload),
                message,
            },
        }
    }

    /// Whether the task was cancelled (by [`Task::cancel`](crate::Task::cancel), a
    /// [`TaskGroup`](crate::TaskGroup), or its loop ending) before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// The value the task panicked with, to inspect or to pass to
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked; check [`is_panic`](JoinError::is_panic)
    /// first, or use [`try_into_panic`](JoinError::try_into_panic).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic().expect(
            "JoinError::into_panic called on a cancelled task's error; check is_panic() first",
        )
    }

    /// The value the task panicked with, or the error itself back if it was cancelled.
    ///
    /// # Errors
    ///
    /// Returns `self` when the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload.0),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic { message, .. } => message.as_deref(),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("the task was cancelled before it finished"),
            Repr::Panic { .. } => match self.panic_message() {
                Some(message) => write!(f, "the task panicked: {message}"),
                None => f.write_str("the task panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic { .. } => f
                .debug_tuple("JoinError::Panic")
                .field(&self.panic_message().unwrap_or("<non-string payload>"))
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}
