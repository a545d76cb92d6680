//! [`BuildError`]: why an [`EventLoop`](crate::EventLoop) or a [`Runtime`](crate::Runtime)
//! could not be made.

use std::error::Error;
use std::fmt;
use std::io;

/// Why a loop or a runtime could not be made: a setting it cannot work with, a setting this
/// system does not support, or the operating system refusing a resource.
///
/// Ask which with the `is_*` queries. It converts into an [`io::Error`] (of kind
/// `InvalidInput`, `Unsupported`, or the system's own), so `?` works in a function that
/// returns `io::Result`.
///
/// # Examples
///
/// ```
/// let error = braid_executor::Runtime::builder().loops(0).build().unwrap_err();
/// assert!(error.is_invalid_setting());
/// assert!(error.to_string().contains("at least 1 loop"));
/// ```
pub struct BuildError {
    kind: Kind,
}

enum Kind {
    InvalidSetting(&'static str),
    Unsupported(&'static str),
    Os(io::Error),
}

impl BuildError {
    pub(crate) fn invalid_setting(message: &'static str) -> BuildError {
        BuildError {
            kind: Kind::InvalidSetting(message),
        }
    }

    pub(crate) fn unsupported(message: &'static str) -> BuildError {
        BuildError {
            kind: Kind::Unsupported(message),
        }
    }

    /// True if a setting was out of range (a count of 0, a thread name with a NUL byte).
    pub fn is_invalid_setting(&self) -> bool {
        matches!(self.kind, Kind::InvalidSetting(_))
    }

    /// True if a setting is not supported on this system.
    pub fn is_unsupported(&self) -> bool {
        matches!(self.kind, Kind::Unsupported(_))
    }

    /// True if the operating system refused a resource: a thread, or a descriptor for the
    /// poller. [`BuildError::os_error`] says which error.
    pub fn is_os(&self) -> bool {
        matches!(self.kind, Kind::Os(_))
    }

    /// The operating system's error, when [`is_os`](BuildError::is_os).
    pub fn os_error(&self) -> Option<&io::Error> {
        match &self.kind {
            Kind::Os(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for BuildError {
    fn from(error: io::Error) -> BuildError {
        BuildError {
            kind: Kind::Os(error),
        }
    }
}

impl From<BuildError> for io::Error {
    fn from(error: BuildError) -> io::Error {
        match error.kind {
            Kind::InvalidSetting(message) => io::Error::new(io::ErrorKind::InvalidInput, message),
            Kind::Unsupported(message) => io::Error::new(io::ErrorKind::Unsupported, message),
            Kind::Os(error) => error,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InvalidSetting(message) | Kind::Unsupported(message) => f.write_str(message),
            Kind::Os(error) => write!(f, "the operating system refused a resource: {error}"),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InvalidSetting(message) => {
                f.debug_tuple("InvalidSetting").field(message).finish()
            }
            Kind::Unsupported(message) => f.debug_tuple("Unsupported").field(message).finish(),
            Kind::Os(error) => f.debug_tuple("Os").field(error).finish(),
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.os_error().map(|error| error as &(dyn Error + 'static))
    }
}
