//! What can happen to a task instead of a result.

use std::error::Error;
use std::fmt;

/// Why a task produced no result.
///
/// Each failure belongs to one task: the pool replaces a worker that died or hung and keeps
/// serving every other task.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The function panicked; the worker caught it and lives on.
    Panicked {
        /// The panic's message, or a note that its payload was not a string.
        message: String,
    },
    /// The worker process ended while running the task (an `exit`, `abort`, a crash or a
    /// kill from outside), or, for a worker started by a [`Launcher`](crate::Launcher), its
    /// connection to the pool was lost. A new worker took its place.
    #[non_exhaustive]
    WorkerDied {
        /// The worker's process id; for a worker started by a launcher, the id of the
        /// process the pool ran (the launcher: `srun`, `ssh`, or the worker itself).
        pid: u32,
        /// The exit code, if it exited.
        exit_code: Option<i32>,
        /// The number of the signal that ended it, if one did.
        signal: Option<i32>,
        /// The host the worker ran on, for a worker started by a launcher (the Slurm node's
        /// name under Slurm); `None` for the pool's own child processes.
        node: Option<String>,
        /// Why the pool ended the worker, when it did: a worker on a connection that went
        /// silent (see [`Launcher::heartbeat`](crate::Launcher::heartbeat)). `None` when the
        /// worker ended by itself or by someone else's hand.
        reason: Option<String>,
    },
    /// The task ran past its timeout; its worker was killed and replaced.
    TimedOut,
    /// The task was cancelled before a worker took it.
    Cancelled,
    /// A value of the task could not be put into a message: the argument did not encode, or
    /// would make a message over the 2 GiB limit, in the parent (it never reaches a worker);
    /// the result did the same in the worker (which lives on); or the function is not the
    /// program's own (see [`ProcessPool::submit`](crate::ProcessPool::submit)). The message
    /// names the value's type, and its size when that was the trouble.
    Encode(String),
    /// The result could not be decoded in the parent, or the argument could not be decoded
    /// in the worker.
    Decode(String),
    /// The pool was shut down before the task could run, or was killed while it ran.
    ShutDown,
    /// No worker could be started to run the task: every start since the last worker ended
    /// failed, for the reason given. The pool keeps trying and takes tasks again as soon as
    /// a worker starts.
    WorkerStart(String),
    /// The task's worker broke the pool's protocol (it sent a message the pool could not
    /// read, or a result for no task), so it was killed and replaced. The message says what
    /// it sent. A bug in braid, or memory the task corrupted in its worker.
    Protocol(String),
}

impl TaskError {
    /// Whether the task's worker process died (exit, crash or kill) while running it.
    pub fn is_worker_died(&self) -> bool {
        matches!(self, TaskError::WorkerDied { .. })
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked { .. })
    }

    /// Whether the task ran past its timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::TimedOut)
    }

    /// Whether the task's worker broke the pool's protocol and was killed for it.
    pub fn is_protocol(&self) -> bool {
        matches!(self, TaskError::Protocol(_))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "the task panicked: {message}"),
            TaskError::WorkerDied {
                pid,
                exit_code,
                signal,
                node,
                reason,
            } => {
                write!(f, "worker process {pid}")?;
                if let Some(node) = node {
                    write!(f, " on {node}")?;
                }
                match (exit_code, signal) {
                    (Some(code), _) => write!(f, " exited with code {code}")?,
                    (None, Some(signal)) => write!(
                        f,
                        " was killed by signal {signal} ({})",
                        braid_sys::signal::name(*signal).unwrap_or("no common name")
                    )?,
                    (None, None) => f.write_str(" ended")?,
                }
                f.write_str(" while running the task")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                f.write_str("; a new worker replaced it")
            }
            TaskError::TimedOut => {
                f.write_str("the task ran past its timeout, so its worker was killed and replaced")
            }
            TaskError::Cancelled => f.write_str("the task was cancelled before it started"),
            TaskError::Encode(e) => write!(f, "a value of the task could not be encoded: {e}"),
            TaskError::Decode(e) => write!(f, "a value of the task could not be decoded: {e}"),
            TaskError::ShutDown => {
                f.write_str("the process pool was shut down before the task finished")
            }
            TaskError::WorkerStart(e) => write!(f, "no worker process could be started: {e}"),
            TaskError::Protocol(e) => write!(
                f,
                "the worker broke the pool's protocol ({e}), so it was killed and replaced"
            ),
        }
    }
}

impl Error for TaskError {}

/// Why a [`ProcessPool`](crate::ProcessPool) could not be started.
///
/// Ask which with the `is_*` queries. It converts into an [`io::Error`](std::io::Error), so
/// `?` works in a function that returns `io::Result`.
///
/// # Examples
///
/// ```
/// let error = braid_procpool::ProcessPool::new(0).unwrap_err();
/// assert!(error.is_invalid_setting());
/// assert!(error.to_string().contains("at least 1 worker"));
/// ```
pub struct BuildError {
    kind: BuildKind,
}

enum BuildKind {
    InvalidSetting(&'static str),
    NotInitialized,
    WorkerStart(String),
    Os(std::io::Error),
}

impl BuildError {
    pub(crate) fn invalid_setting(message: &'static str) -> BuildError {
        BuildError {
            kind: BuildKind::InvalidSetting(message),
        }
    }

    pub(crate) fn not_initialized() -> BuildError {
        BuildError {
            kind: BuildKind::NotInitialized,
        }
    }

    pub(crate) fn worker_start(reason: String) -> BuildError {
        BuildError {
            kind: BuildKind::WorkerStart(reason),
        }
    }

    /// True if a setting was out of range: 0 workers, a `max_tasks_per_child` of 0, a zero
    /// task timeout.
    pub fn is_invalid_setting(&self) -> bool {
        matches!(self.kind, BuildKind::InvalidSetting(_))
    }

    /// True if this process was started as a worker but its `main` did not call
    /// [`init`](crate::init) first.
    pub fn is_not_initialized(&self) -> bool {
        matches!(self.kind, BuildKind::NotInitialized)
    }

    /// True if a worker started but did not become ready: its initializer panicked, or it
    /// exited first (typically because `main` does not call [`init`](crate::init) first).
    pub fn is_worker_start(&self) -> bool {
        matches!(self.kind, BuildKind::WorkerStart(_))
    }

    /// True if the operating system refused a process, pipe or thread, or the executable
    /// could not be found. [`BuildError::os_error`] says which error.
    pub fn is_os(&self) -> bool {
        matches!(self.kind, BuildKind::Os(_))
    }

    /// The operating system's error, when [`is_os`](BuildError::is_os).
    pub fn os_error(&self) -> Option<&std::io::Error> {
        match &self.kind {
            BuildKind::Os(error) => Some(error),
            _ => None,
        }
    }
}

impl From<std::io::Error> for BuildError {
    fn from(error: std::io::Error) -> BuildError {
        BuildError {
            kind: BuildKind::Os(error),
        }
    }
}

impl From<BuildError> for std::io::Error {
    fn from(error: BuildError) -> std::io::Error {
        match error.kind {
            BuildKind::InvalidSetting(message) => {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
            }
            BuildKind::Os(error) => error,
            _ => std::io::Error::other(error.to_string()),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildKind::InvalidSetting(message) => f.write_str(message),
            BuildKind::NotInitialized => f.write_str(
                "this process was started as a braid-procpool worker, but its main() did not \
                 call braid_procpool::init() first",
            ),
            BuildKind::WorkerStart(reason) => write!(f, "a worker failed to start: {reason}"),
            BuildKind::Os(error) => write!(f, "the operating system refused: {error}"),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildKind::InvalidSetting(message) => {
                f.debug_tuple("InvalidSetting").field(message).finish()
            }
            BuildKind::NotInitialized => f.write_str("NotInitialized"),
            BuildKind::WorkerStart(reason) => f.debug_tuple("WorkerStart").field(reason).finish(),
            BuildKind::Os(error) => f.debug_tuple("Os").field(error).finish(),
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.os_error().map(|error| error as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn display_names_the_exit_code_or_signal() {
        let exit = TaskError::WorkerDied {
            pid: 12,
            exit_code: Some(3),
            signal: None,
            node: None,
            reason: None,
        };
        assert_eq!(
            exit.to_string(),
            "worker process 12 exited with code 3 while running the task; a new worker \
             replaced it"
        );
        let killed = TaskError::WorkerDied {
            pid: 12,
            exit_code: None,
            signal: Some(9),
            node: Some("node-4".into()),
            reason: None,
        };
        assert_eq!(
            killed.to_string(),
            "worker process 12 on node-4 was killed by signal 9 (SIGKILL) while running the \
             task; a new worker replaced it"
        );
        let ended = TaskError::WorkerDied {
            pid: 12,
            exit_code: None,
            signal: None,
            node: None,
            reason: None,
        };
        assert!(ended
            .to_string()
            .starts_with("worker process 12 ended while"));
        let panic = TaskError::Panicked {
            message: "boom".into(),
        };
        assert_eq!(panic.to_string(), "the task panicked: boom");
        assert!(killed.is_worker_died() && panic.is_panic() && TaskError::TimedOut.is_timeout());
        let protocol = TaskError::Protocol("worker process 12 sent an empty message".into());
        assert_eq!(
            protocol.to_string(),
            "the worker broke the pool's protocol (worker process 12 sent an empty message), so \
             it was killed and replaced"
        );
        assert!(protocol.is_protocol() && !protocol.is_worker_died());
    }
}
