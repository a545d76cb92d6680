//! Child processes driven by the event loop (Python's `asyncio.create_subprocess_exec`).
//!
//! [`Command`] is [`std::process::Command`] with asynchronous [`output`](Command::output)
//! and [`status`](Command::status); [`spawn`](Command::spawn) gives a [`Child`] whose piped
//! streams implement `futures::io::AsyncRead` / `AsyncWrite` and whose
//! [`wait`](Child::wait) does not block the loop. Other tasks keep running while children
//! work, however many there are.
//!
//! ```
//! use braid_executor::process::Command;
//!
//! braid_executor::run(async {
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"hello\n");
//!     std::io::Result::Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Talking to a child through its pipes, and many children at once:
//!
//! ```
//! use braid_executor::process::{Command, Stdio};
//! use futures::{AsyncReadExt, AsyncWriteExt};
//!
//! braid_executor::run(async {
//!     let words = ["one", "two", "three"];
//!     let replies = braid_executor::gather(words.map(|word| async move {
//!         let mut child = Command::new("tr")
//!             .args(["a-z", "A-Z"])
//!             .stdin(Stdio::piped())
//!             .stdout(Stdio::piped())
//!             .spawn()?;
//!         let mut stdin = child.stdin.take().unwrap();
//!         stdin.write_all(word.as_bytes()).await?;
//!         drop(stdin); // end-of-file for tr
//!         let mut reply = String::new();
//!         child.stdout.take().unwrap().read_to_string(&mut reply).await?;
//!         child.wait().await?;
//!         std::io::Result::Ok(reply)
//!     }))
//!     .await;
//!     let replies: Vec<String> = replies.into_iter().collect::<Result<_, _>>()?;
//!     assert_eq!(replies, ["ONE", "TWO", "THREE"]);
//!     std::io::Result::Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The event loop
//!
//! Spawning needs a running braid loop, like making a socket: [`Command::spawn`] panics
//! without one, with a message that says so. The [`Child`] and its pipes belong to that loop:
//! the `Child` is not `Send`; the pipes are, like sockets, but work only on that loop. std does the spawning itself (`fork`/`exec` or `posix_spawn`), so
//! everything std's `Command` offers, `std::os::unix::process::CommandExt` included, works
//! through [`Command::as_std_mut`].
//!
//! # How exits are seen
//!
//! No thread waits for a child. On Linux (5.3 and later) each child gets a pidfd, which the
//! loop's poller reports readable when the child exits; the child is then reaped with
//! `waitpid` on its own pid. Elsewhere (macOS, the BSDs), or where `pidfd_open` is not
//! allowed, a waiting child listens for `SIGCHLD` as a [`signal`](crate::signal::signal)
//! listener does and tries `waitpid` on its own pid at each delivery. `waitpid(-1)` is never used, so children
//! that other code started (with `std::process`, or a process pool) are left to it.
//!
//! # Dropping a child
//!
//! Dropping a [`Child`] does not kill the process unless [`Command::kill_on_drop`] was
//! set, and it does not wait for it, yet the process is not left a zombie: if it is still
//! running, a small task on the loop waits for its exit and reaps it. When the loop is not
//! running (the `Child` outlived it), the pid goes on a process-wide list that is swept
//! whenever a child is spawned or dropped, or `SIGCHLD` arrives for a waiting child.

mod child;
mod exit;
mod orphan;
mod pipe;
#[cfg(test)]
mod test;

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use crate::event_loop::context;
use child::Spawned;
use exit::ExitPlan;

/// Builds and spawns a child process: [`std::process::Command`] for the event loop.
///
/// The builder methods are std's; [`spawn`](Command::spawn) gives a [`Child`] with
/// asynchronous pipes, and [`output`](Command::output) and [`status`](Command::status)
/// are `async`.
///
/// # Examples
///
/// ```
/// use braid_executor::process::Command;
///
/// braid_executor::run(async {
///     let output = Command::new("sh")
///         .args(["-c", "echo \"$GREETING\" from \"$PWD\""])
///         .env("GREETING", "hi")
///         .current_dir("/")
///         .output()
///         .await?;
///     assert_eq!(output.stdout, b"hi from /\n");
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    std: std::process::Command,
    /// Which of stdin, stdout and stderr were set here, for `output`'s defaults.
    stdio_set: [bool; 3],
    kill_on_drop: bool,
    sigchld_only: bool,
}

impl Command {
    /// A command that runs `program`, found on `PATH` when it names no directory, with no
    /// arguments, the parent's environment and working directory, and the parent's
    /// standard streams (`output` pipes stdout and stderr instead).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets several environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory. A relative program name is still looked up on
    /// `PATH`, not in this directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: `Stdio::piped()` to write to it through
    /// [`Child::stdin`], `Stdio::null()`, `Stdio::inherit()` (the default), or a file.
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdio_set[0] = true;
        self
    }

    /// Sets the child's standard output: `Stdio::piped()` to read it through
    /// [`Child::stdout`], `Stdio::null()`, `Stdio::inherit()` (the default), or a file.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self.stdio_set[1] = true;
        self
    }

    /// Sets the child's standard error, like [`stdout`](Command::stdout).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self.stdio_set[2] = true;
        self
    }

    /// Whether dropping the [`Child`] before it was reaped kills it with `SIGKILL`
    /// (default `false`: the child runs on, and is reaped when it exits).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Watches the children this command spawns through `SIGCHLD`, as on systems without
    /// pidfds, so that path can be tested on Linux too. Not part of the stable API.
    #[doc(hidden)]
    pub fn watch_exit_with_sigchld(&mut self) -> &mut Command {
        self.sigchld_only = true;
        self
    }

    /// The std command inside, to read what was set.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command inside, for what only std offers, such as
    /// `std::os::unix::process::CommandExt` (`uid`, `process_group`, `exec`'s `arg0`).
    /// Standard streams set this way count as unset for [`output`](Command::output)'s
    /// defaults.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child (Python's `asyncio.create_subprocess_exec`).
    ///
    /// Streams set to `Stdio::piped()` are in the [`Child`]'s `stdin`, `stdout` and
    /// `stderr` fields. The command can be spawned again.
    ///
    /// # Errors
    ///
    /// What starting the program reports, with the program named in the message:
    /// `NotFound` when it does not exist, `PermissionDenied` when it is not executable;
    /// also when the system runs out of processes or descriptors.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::process::Command;
    ///
    /// braid_executor::run(async {
    ///     let error = Command::new("no-such-program-anywhere").spawn().unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        let Some(core) = context::current_rc() else {
            context::no_loop("braid_executor::process::Command::spawn")
        };
        orphan::reap();
        let plan = ExitPlan::new(self.sigchld_only)?;
        let mut process = self.std.spawn().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "could not start program {:?}: {error}",
                    self.std.get_program()
                ),
            )
        })?;
        let pieces = (|| {
            let stdin = process.stdin.take().map(ChildStdin::new).transpose()?;
            let stdout = process.stdout.take().map(ChildStdout::new).transpose()?;
            let stderr = process.stderr.take().map(ChildStderr::new).transpose()?;
            let watch = plan.watch(process.id())?;
            io::Result::Ok((stdin, stdout, stderr, watch))
        })();
        match pieces {
            Ok((stdin, stdout, stderr, watch)) => Ok(Child::new(Spawned {
                process,
                stdin,
                stdout,
                stderr,
                watch,
                kill_on_drop: self.kill_on_drop,
                core,
            })),
            Err(error) => {
                // Without its pipes or a way to see its exit the child is no use: stop it,
                // and leave it to the orphan sweeps to reap.
                let _ = process.kill();
                orphan::abandon(process);
                Err(error)
            }
        }
    }

    /// Runs the child to completion and collects its output (Python's
    /// `Process.communicate`, `subprocess.run(capture_output=True)`).
    ///
    /// Unless set otherwise, stdout and stderr are piped and collected, and stdin reads
    /// nothing (`Stdio::null()`), as with std's `output`; those defaults apply to this call
    /// only. Both pipes are read concurrently, so a child that writes a lot to each cannot
    /// deadlock.
    ///
    /// # Errors
    ///
    /// What [`spawn`](Command::spawn) and reading the pipes report. A child that fails is
    /// not an error: look at the output's `status`.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    pub async fn output(&mut self) -> io::Result<Output> {
        let defaults = [Stdio::null, Stdio::piped, Stdio::piped];
        let unset = self.stdio_set.map(|set| !set);
        for (stream, default) in defaults.into_iter().enumerate() {
            if unset[stream] {
                self.set_stdio(stream, default());
            }
        }
        let spawned = self.spawn();
        for (stream, was_unset) in unset.into_iter().enumerate() {
            if was_unset {
                self.set_stdio(stream, Stdio::inherit());
            }
        }
        spawned?.wait_with_output().await
    }

    fn set_stdio(&mut self, stream: usize, cfg: Stdio) {
        match stream {
            0 => self.std.stdin(cfg),
            1 => self.std.stdout(cfg),
            _ => self.std.stderr(cfg),
        };
    }

    /// Runs the child to completion and returns its exit status (Python's
    /// `subprocess.run`'s `returncode`).
    ///
    /// Streams are inherited unless set otherwise. Pipes asked for with `Stdio::piped()`
    /// are closed at once, as nobody could read or write them.
    ///
    /// # Errors
    ///
    /// What [`spawn`](Command::spawn) and [`Child::wait`] report.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::process::Command;
    ///
    /// braid_executor::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }
}

impl From<std::process::Command> for Command {
    /// Takes over a std command. Its standard streams count as unset for
    /// [`output`](Command::output)'s defaults.
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            stdio_set: [false; 3],
            kill_on_drop: false,
            sigchld_only: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.std, f)
    }
}
