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
    /// kill from outside). A new worker took its place.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// The exit code, if it exited.
        exit_code: Option<i32>,
        /// The number of the signal that ended it, if one did.
        signal: Option<i32>,
    },
    /// The task ran past its timeout; its worker was killed and replaced.
    TimedOut,
    /// The task was cancelled before a worker took it.
    Cancelled,
    /// The argument could not be encoded, or the result could not be encoded in the worker.
    /// An argument that fails to encode never reaches a worker.
    Encode(String),
    /// The result could not be decoded in the parent, or the argument could not be decoded
    /// in the worker.
    Decode(String),
    /// The pool was shut down before the task could run, or was killed while it ran.
    ShutDown,
    /// No worker could be started to run the task.
    WorkerStart(String),
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
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "the task panicked: {message}"),
            TaskError::WorkerDied {
                pid,
                exit_code: Some(code),
                ..
            } => write!(
                f,
                "worker process {pid} exited with code {code} while running the task; \
                 a new worker replaced it"
            ),
            TaskError::WorkerDied {
                pid,
                signal: Some(signal),
                ..
            } => write!(
                f,
                "worker process {pid} was killed by signal {signal} ({}) while running the \
                 task; a new worker replaced it",
                braid_sys::signal::name(*signal).unwrap_or("no common name")
            ),
            TaskError::WorkerDied { pid, .. } => write!(
                f,
                "worker process {pid} ended while running the task; a new worker replaced it"
            ),
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
        }
    }
}

impl Error for TaskError {}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn display_names_the_exit_code_or_signal() {
        let exit = TaskError::WorkerDied {
            pid: 12,
            exit_code: Some(3),
            signal: None,
        };
        assert!(exit.to_string().contains("exited with code 3"), "{exit}");
        let killed = TaskError::WorkerDied {
            pid: 12,
            exit_code: None,
            signal: Some(9),
        };
        assert!(
            killed.to_string().contains("signal 9 (SIGKILL)"),
            "{killed}"
        );
        let panic = TaskError::Panicked {
            message: "boom".into(),
        };
        assert_eq!(panic.to_string(), "the task panicked: boom");
        assert!(killed.is_worker_died() && panic.is_panic() && TaskError::TimedOut.is_timeout());
    }
}
