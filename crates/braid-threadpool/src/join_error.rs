//! [`JoinError`], the one error of every braid handle whose work gave no value, and
//! [`panic_message`], the one way braid reads a panic's message.

use std::any::Any;
use std::fmt;

/// Why a task produced no value: it was cancelled, it panicked, or it was refused because its
/// pool had been shut down.
///
/// The same type comes back from a thread-pool [`JoinHandle`](crate::JoinHandle) and from an
/// event-loop task (`braid_executor::Task`, `spawn_blocking`), so one `match` or `?` serves
/// both.
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

/// Sixteen bytes: the panic's parts are boxed, so that a task's slot for its result (a
/// `Result<T, JoinError>` in every idle event-loop task) stays small. Panics are rare; the
/// box costs only them.
enum Kind {
    Cancelled,
    ShutDown,
    Panic(Box<Panicked>),
}

struct Panicked {
    payload: SyncPayload,
    /// Read once when the panic is caught, so that `Display` and `Debug` never look into the
    /// payload through a shared reference.
    message: Option<String>,
}

/// A panic payload that is only ever moved, never borrowed, so that `JoinError` is `Sync` and
/// fits in `Box<dyn Error + Send + Sync>` although the payload itself is only `Send`.
struct SyncPayload(Box<dyn Any + Send>);

// SAFETY: nothing hands out or takes a shared reference to the payload: it is only moved out
// by value (`try_into_panic`), so sharing a `&JoinError` between threads cannot reach its
// (possibly non-`Sync`) contents.
unsafe impl Sync for SyncPayload {}

/// The message of a panic payload, when it is a string (what `panic!` with a message makes).
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("disk {}", "full")).unwrap_err();
/// assert_eq!(braid_threadpool::panic_message(&*payload), Some("disk full"));
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl JoinError {
    /// The error of a task cancelled before it finished. For pools and executors built on
    /// braid's handles.
    #[doc(hidden)]
    pub fn cancelled() -> JoinError {
        JoinError {
            kind: Kind::Cancelled,
        }
    }

    /// The error of a task refused because its pool was shut down.
    #[doc(hidden)]
    pub fn shut_down() -> JoinError {
        JoinError {
            kind: Kind::ShutDown,
        }
    }

    /// The error of a task that panicked with `payload`.
    #[doc(hidden)]
    pub fn panic(payload: Box<dyn Any + Send>) -> JoinError {
        let message = panic_message(&*payload).map(str::to_owned);
        JoinError {
            kind: Kind::Panic(Box::new(Panicked {
                payload: SyncPayload(payload),
                message,
            })),
        }
    }

    /// True if the task was cancelled before it finished: a thread-pool task by
    /// [`JoinHandle::cancel`](crate::JoinHandle::cancel) or
    /// [`Shutdown::CancelPending`](crate::Shutdown::CancelPending) before it started, an
    /// event-loop task at any `.await`.
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

    /// The panic's message, when the task panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            Kind::Panic(panicked) => panicked.message.as_deref(),
            _ => None,
        }
    }

    /// The value the task panicked with, to inspect or to re-raise with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic; check [`JoinError::is_panic`] first or use
    /// [`JoinError::try_into_panic`].
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic().expect(
            "JoinError::into_panic called on an error that is not a panic; check is_panic() first",
        )
    }

    /// The panic payload, or the error itself if the task did not panic.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the task was cancelled or shut down.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            Kind::Panic(panicked) => Ok(panicked.payload.0),
            kind => Err(JoinError { kind }),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("the task was cancelled before it finished"),
            Kind::ShutDown => f.write_str(
                "the thread pool was shut down before the task was submitted; submit work before calling shutdown",
            ),
            Kind::Panic(panicked) => match &panicked.message {
                Some(message) => write!(f, "the task panicked: {message}"),
                None => f.write_str("the task panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("JoinError::Cancelled"),
            Kind::ShutDown => f.write_str("JoinError::ShutDown"),
            Kind::Panic(panicked) => f
                .debug_tuple("JoinError::Panic")
                .field(
                    &panicked
                        .message
                        .as_deref()
                        .unwrap_or("<non-string payload>"),
                )
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {}

/// For `?` in functions that return `io::Result`: the error's message becomes an
/// [`io::ErrorKind::Other`](std::io::ErrorKind::Other) error.
impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn join_error_messages_say_what_happened() {
        assert_eq!(
            JoinError::cancelled().to_string(),
            "the task was cancelled before it finished"
        );
        assert!(JoinError::shut_down()
            .to_string()
            .contains("submit work before calling shutdown"));
        let error = JoinError::panic(Box::new(String::from("disk full")));
        assert_eq!(error.to_string(), "the task panicked: disk full");
        assert_eq!(error.panic_message(), Some("disk full"));
        assert_eq!(format!("{error:?}"), "JoinError::Panic(\"disk full\")");
        let error = error.try_into_panic().unwrap();
        assert_eq!(error.downcast_ref::<String>().unwrap(), "disk full");
        let not_a_panic = JoinError::cancelled().try_into_panic().unwrap_err();
        assert!(not_a_panic.is_cancelled());
    }

    #[test]
    fn join_error_and_a_unit_result_take_two_words() {
        // Every idle event-loop task holds a slot for its `Result<T, JoinError>`.
        assert_eq!(std::mem::size_of::<JoinError>(), 16);
        assert_eq!(std::mem::size_of::<Result<(), JoinError>>(), 16);
    }

    #[test]
    fn join_error_fits_in_a_boxed_send_sync_error() {
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            Box::new(JoinError::panic(Box::new(3_u8)));
        assert_eq!(boxed.to_string(), "the task panicked");
        let io: std::io::Error = JoinError::cancelled().into();
        assert_eq!(io.to_string(), "the task was cancelled before it finished");
    }
}
