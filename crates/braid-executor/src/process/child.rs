//! A running (or finished) child process: [`Child`].

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::process::{ExitStatus, Output};
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncReadExt};

use super::exit::ExitWatch;
use super::orphan;
use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use crate::event_loop::context;
use crate::event_loop::core::Core;

/// A child process spawned by [`Command::spawn`](super::Command::spawn) (Python's
/// `asyncio.subprocess.Process`).
///
/// The pipes asked for with `Stdio::piped()` are in [`stdin`](Child::stdin),
/// [`stdout`](Child::stdout) and [`stderr`](Child::stderr); take them out with
/// `Option::take` to use them while waiting. [`wait`](Child::wait) waits for the exit
/// without blocking the loop.
///
/// A `Child` belongs to the loop that spawned it: it is not `Send`, and waiting on it or
/// using its pipes outside that running loop panics.
///
/// Dropping a `Child` neither waits for nor kills the process (unless
/// [`Command::kill_on_drop`](super::Command::kill_on_drop) was set), but it is still reaped
/// once it exits, so it never stays a zombie; see the [module docs](super#dropping-a-child).
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<braid_executor::process::Child>();
/// ```
///
/// # Examples
///
/// ```
/// use braid_executor::process::{Command, Stdio};
/// use futures::{AsyncReadExt, AsyncWriteExt};
///
/// braid_executor::run(async {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"round trip").await?;
///     stdin.close().await?; // cat stops at end-of-file
///
///     let mut echoed = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut echoed).await?;
///     assert_eq!(echoed, "round trip");
///     assert!(child.wait().await?.success());
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    /// The child's standard input, if it was spawned with `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was spawned with `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was spawned with `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    /// Its pipes were taken out; only used to reap it, and as std's record of the pid.
    process: std::process::Child,
    /// `None` once reaped.
    watch: Option<ExitWatch>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
    core: Rc<Core>,
}

/// The pieces [`Command::spawn`](super::Command::spawn) puts together.
pub(super) struct Spawned {
    pub(super) process: std::process::Child,
    pub(super) stdin: Option<ChildStdin>,
    pub(super) stdout: Option<ChildStdout>,
    pub(super) stderr: Option<ChildStderr>,
    pub(super) watch: ExitWatch,
    pub(super) kill_on_drop: bool,
    pub(super) core: Rc<Core>,
}

impl Child {
    pub(super) fn new(spawned: Spawned) -> Child {
        Child {
            stdin: spawned.stdin,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            process: spawned.process,
            watch: Some(spawned.watch),
            status: None,
            kill_on_drop: spawned.kill_on_drop,
            core: spawned.core,
        }
    }

    /// The child's process id, or `None` once it has been reaped (after
    /// [`wait`](Child::wait) or [`try_wait`](Child::try_wait) reported its exit), when the
    /// number may already belong to another process.
    pub fn id(&self) -> Option<u32> {
        match self.status {
            None => Some(self.process.id()),
            Some(_) => None,
        }
    }

    /// Waits for the child to exit and returns its status (Python's `Process.wait`).
    ///
    /// Closes the child's stdin first (drops [`stdin`](Child::stdin)), so a child that
    /// reads until end-of-file can finish. Its stdout and stderr are left alone: a child that
    /// writes more than a pipe holds waits until someone reads them, so read them
    /// concurrently, or use [`wait_with_output`](Child::wait_with_output). Once the child
    /// has exited, every later call returns the same status at once.
    ///
    /// Cancel-safe: dropping the future leaves the child as it was.
    ///
    /// # Errors
    ///
    /// When the system cannot wait for it, for instance because other code already reaped
    /// it with `waitpid(-1)`.
    ///
    /// # Panics
    ///
    /// Outside the running event loop that spawned the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::process::Command;
    ///
    /// braid_executor::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 3"]).spawn()?.wait().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        if !context::is_current(&self.core.shared) {
            panic!(
                "a braid_executor::process::Child was waited for outside the running event \
                 loop that spawned it; a child belongs to that loop and can be waited for only \
                 while it runs"
            );
        }
        let Some(watch) = &mut self.watch else {
            unreachable!("a child that was not reaped keeps its exit watch");
        };
        let process = &mut self.process;
        let status = ready!(watch.poll_exit(cx, || process.try_wait()))?;
        Poll::Ready(Ok(self.reaped(status)))
    }

    /// Reaps the child if it has exited, without waiting: `Ok(None)` while it runs.
    /// Unlike [`wait`](Child::wait) it leaves stdin open.
    ///
    /// # Errors
    ///
    /// When the system cannot wait for it (see [`wait`](Child::wait)).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        Ok(self.process.try_wait()?.map(|status| self.reaped(status)))
    }

    fn reaped(&mut self, status: ExitStatus) -> ExitStatus {
        self.status = Some(status);
        // Release the pidfd (or the SIGCHLD listener) now rather than when the `Child` drops.
        self.watch = None;
        status
    }

    /// Sends the child `SIGKILL` without waiting for it to die (Python's `Process.kill`);
    /// follow with [`wait`](Child::wait) to reap it.
    ///
    /// Does nothing once the child has been reaped, so it never signals a process that
    /// took over the pid. On Linux the signal goes through the child's pidfd.
    ///
    /// # Errors
    ///
    /// What `kill` reports, such as `PermissionDenied` for a child that changed its user.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Sends the child `SIGTERM`, asking it to stop (Python's `Process.terminate`); follow
    /// with [`wait`](Child::wait) to learn how it ended.
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Child::send_signal).
    pub fn terminate(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// Sends the child `signal`, such as `libc::SIGUSR1` (Python's `Process.send_signal`).
    ///
    /// Does nothing once the child has been reaped, so it never signals a process that
    /// took over the pid. On Linux the signal goes through the child's pidfd.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a number that is no signal; otherwise what `kill` reports, such
    /// as `PermissionDenied` for a child that changed its user.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use braid_executor::process::Command;
    ///
    /// braid_executor::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn()?;
    ///     child.send_signal(libc::SIGUSR1)?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGUSR1));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_signal(&mut self, signal: i32) -> io::Result<()> {
        match (&self.status, &self.watch) {
            (None, Some(watch)) => watch.send_signal(&self.process, signal),
            _ => Ok(()),
        }
    }

    /// Kills the child with `SIGKILL` and waits until it has been reaped. Returns at once
    /// if it had already been reaped.
    ///
    /// # Errors
    ///
    /// What [`start_kill`](Child::start_kill) and [`wait`](Child::wait) report.
    ///
    /// # Panics
    ///
    /// Outside the running event loop that spawned the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use braid_executor::process::Command;
    ///
    /// braid_executor::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn()?;
    ///     child.kill().await?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGKILL));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Waits for the child to exit while collecting all of its stdout and stderr (Python's
    /// `Process.communicate` with no input).
    ///
    /// Closes stdin first, then reads both pipes concurrently with the wait, so a child that
    /// fills one pipe while the other is being read never deadlocks. A stream that was not
    /// piped gives an empty `Vec`.
    ///
    /// # Errors
    ///
    /// What reading the pipes or [`wait`](Child::wait) reports.
    ///
    /// # Panics
    ///
    /// Outside the running event loop that spawned the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::process::{Command, Stdio};
    ///
    /// braid_executor::run(async {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "echo out; echo err >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     let output = child.wait_with_output().await?;
    ///     assert_eq!(output.stdout, b"out\n");
    ///     assert_eq!(output.stderr, b"err\n");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let (status, stdout, stderr) =
            futures::future::try_join3(self.wait(), read_all(stdout), read_all(stderr)).await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            if self.kill_on_drop {
                if let Err(error) = self.start_kill() {
                    tracing::debug!("killing a dropped child failed: {error}");
                }
            }
            // Already exited (or not ours to wait for any more): nothing is left to reap.
            if !matches!(self.process.try_wait(), Ok(Some(_)) | Err(_)) {
                orphan::watch_or_adopt(
                    self.process.id(),
                    self.watch.take(),
                    context::is_current(&self.core.shared),
                );
            }
        }
        orphan::reap();
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}
