//! [`ProcessPool`] and its [`Builder`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_poller::Poller;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::child;
use crate::parent::error::{BuildError, TaskError};
use crate::parent::handle::{JoinHandle, TaskSlot};
use crate::parent::job::{Job, Settle};
use crate::parent::launch::command::Command;
use crate::parent::map::Map;
pub use crate::parent::settings::{Launcher, PanicOutput, Shutdown, Slurm, StartMethod};
use crate::parent::shared::Shared;
use crate::parent::supervisor::{self, Config};
use crate::protocol::function::FnRef;
use crate::protocol::{TaskMessage, WorkerSettings, MAX_FRAME};

/// A snapshot of a pool's counters, from [`ProcessPool::metrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Task items a worker finished (with a result, a panic or a codec error), map items
    /// included.
    pub tasks_done: u64,
    /// Task items that panicked.
    pub panics: u64,
    /// Workers that died unexpectedly (exit, crash, outside kill) or were killed for breaking
    /// the pool's protocol, timeouts not included.
    pub worker_deaths: u64,
    /// Tasks whose worker was killed for running past their timeout.
    pub timeouts: u64,
    /// Workers started to replace one that died, timed out or reached `max_tasks_per_child`.
    pub respawns: u64,
    /// Worker starts that failed: the process could not be made, its initializer panicked,
    /// or it ended or hung before it was ready. Each is retried after a back-off.
    pub start_failures: u64,
    /// Jobs taken back, unread, from a busy worker's pipe so that an idle worker could run
    /// them (on systems with packet pipes, where a worker is sent several jobs at once).
    pub taken_back: u64,
    /// Connections to the pool's listener (see [`Launcher`]) that were closed because they
    /// did not prove that they know the pool's secret: a wrong or replayed answer, something
    /// that is not a handshake at all, a connection closed or too slow before its answer was
    /// whole, or the oldest in its handshake, closed to make room for a new connection when
    /// the limit of handshakes at once was reached.
    pub auth_failures: u64,
    /// Workers running now.
    pub workers: usize,
}

/// A pool of worker processes that run `fn(A) -> R` tasks.
///
/// See the [crate documentation](crate) for a tour. A `ProcessPool` is `Send + Sync`; share
/// it by reference or in an `Arc`. Dropping it waits for every submitted task, then stops and
/// reaps every worker ([`Shutdown::Wait`]).
///
/// The pool reaps its own workers with `waitpid` on their pids. A program that reaps every
/// child itself (`waitpid(-1)`, or `SIGCHLD` set to be ignored) takes their exit statuses
/// away: a worker's death is still noticed, but reported without an exit code or signal.
pub struct ProcessPool {
    shared: Arc<Shared>,
    /// Where workers started by a command connect.
    listen_addr: Option<SocketAddr>,
    /// The largest task message body; see [`Builder::frame_limit`].
    frame_limit: usize,
    supervisor: Mutex<Option<thread::JoinHandle<()>>>,
}

impl ProcessPool {
    /// Starts a pool of `workers` processes with the default [`Builder`] settings.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 workers; otherwise the error of [`Builder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// # braid_procpool::init();
    /// let pool = braid_procpool::ProcessPool::new(2)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(workers: usize) -> Result<ProcessPool, BuildError> {
        ProcessPool::builder().workers(workers).build()
    }

    /// A [`Builder`] to configure a pool.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `f(arg)` in a worker.
    ///
    /// `f` must be a function item or a closure that captures nothing, of this program:
    /// workers find it by its place in the executable, which is why every worker runs the
    /// same executable as the parent. A function of a shared library (one loaded with
    /// `dlopen`, or a crate linked as a `dylib`) is refused: the handle yields
    /// [`TaskError::Encode`] saying where the function lives. `arg` is encoded here, in the
    /// calling thread; an argument that fails to encode, or that would make a message over
    /// the 2 GiB limit, makes the handle yield [`TaskError::Encode`] and never reaches a
    /// worker. The task gets the pool's [`Builder::task_timeout`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # braid_procpool::init();
    /// # let pool = braid_procpool::ProcessPool::new(2)?;
    /// let handle = pool.submit(|s: String| s.len(), "four".to_string());
    /// assert_eq!(handle.join(), Ok(4));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// A closure that captures something is not a `fn` pointer, and is refused at compile
    /// time: send the value as (part of) the argument instead.
    ///
    /// ```compile_fail
    /// # braid_procpool::init();
    /// # let pool = braid_procpool::ProcessPool::new(1)?;
    /// let offset = 10;
    /// let handle = pool.submit(move |x: u32| x + offset, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> JoinHandle<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_job(f, arg, self.shared.task_timeout)
    }

    /// Like [`submit`](ProcessPool::submit), with a timeout for this task: if it runs longer,
    /// its worker is killed and replaced, and the handle yields [`TaskError::TimedOut`].
    pub fn submit_with_timeout<A, R>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Duration,
    ) -> JoinHandle<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_job(f, arg, Some(timeout))
    }

    fn submit_job<A, R>(&self, f: fn(A) -> R, arg: A, timeout: Option<Duration>) -> JoinHandle<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let slot = Arc::new(TaskSlot::<R>::new());
        let f = match FnRef::new(f) {
            Ok(f) => f,
            Err(e) => {
                slot.complete(Err(TaskError::Encode(e)));
                return JoinHandle::new(slot);
            }
        };
        let mut message = TaskMessage::new(f, 32).limit(self.frame_limit);
        match message.push(&arg) {
            Ok(()) => self.shared.push(Job {
                message: message.finish(),
                timeout,
                sink: Settle::new(slot.clone()),
                claimed: false,
            }),
            Err(e) => {
                slot.complete(Err(TaskError::Encode(format!(
                    "the argument ({}) did not encode: {e}",
                    std::any::type_name::<A>()
                ))));
            }
        }
        JoinHandle::new(slot)
    }

    /// Runs `f` on every item and yields the results in input order.
    ///
    /// Items travel in chunks of `chunksize` (0 counts as 1): one message per chunk both
    /// ways, which makes short tasks cheap. The iterator is lazy and keeps a bounded number
    /// of chunks in flight, so an endless `items` works. Each item's result is its own; an
    /// item that fails to encode, or does not fit in its chunk's message, yields
    /// [`TaskError::Encode`] in its place, and so does every item if `f` is not the
    /// program's own (see [`submit`](ProcessPool::submit)). If a worker dies in the middle
    /// of a chunk, every item of that chunk yields the error (use a `chunksize` of 1 to
    /// confine a crash to its item). A pool-wide
    /// [`Builder::task_timeout`] applies to a chunk as `chunksize` times the timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # braid_procpool::init();
    /// # let pool = braid_procpool::ProcessPool::new(2)?;
    /// let squares: Vec<u64> = pool.map(|x: u64| x * x, 0..10, 4).map(Result::unwrap).collect();
    /// assert_eq!(squares[9], 81);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map<A, R, I>(&self, f: fn(A) -> R, items: I, chunksize: usize) -> Map<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        let items = items.into_iter();
        Map::new(
            self.shared.clone(),
            f,
            items,
            chunksize,
            true,
            self.frame_limit,
        )
    }

    /// Like [`map`](ProcessPool::map), but yields each chunk's results as soon as the chunk
    /// is done, in completion order.
    pub fn imap_unordered<A, R, I>(&self, f: fn(A) -> R, items: I, chunksize: usize) -> Map<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        let items = items.into_iter();
        Map::new(
            self.shared.clone(),
            f,
            items,
            chunksize,
            false,
            self.frame_limit,
        )
    }

    /// Stops the pool and returns once every worker process is reaped.
    ///
    /// Tasks submitted afterwards yield [`TaskError::ShutDown`]. Calling it again, or
    /// dropping the pool afterwards, only waits; a stronger `how` given later (`Kill` after
    /// `Wait`) takes over.
    pub fn shutdown(&self, how: Shutdown) {
        {
            let mut queue = self.shared.queue.lock();
            if queue.closing.map_or(true, |current| current < how) {
                queue.closing = Some(how);
            }
        }
        let _ = self.shared.poller.notify();
        self.shared.wait_finished();
        if let Some(thread) = self.supervisor.lock().take() {
            let _ = thread.join();
        }
    }

    /// The pool's counters.
    pub fn metrics(&self) -> Metrics {
        let c = &self.shared.counters;
        Metrics {
            tasks_done: c.tasks_done.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            worker_deaths: c.worker_deaths.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            respawns: c.respawns.load(Ordering::Relaxed),
            start_failures: c.start_failures.load(Ordering::Relaxed),
            taken_back: c.taken_back.load(Ordering::Relaxed),
            auth_failures: c.auth_failures.load(Ordering::Relaxed),
            workers: c.workers.load(Ordering::Relaxed),
        }
    }

    /// The number of worker processes the pool keeps.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// The address the pool listens on for its workers' connections, with the port the
    /// system picked; `None` for a pool whose workers are its own children (no
    /// [`Builder::launcher`]). The listener closes when the pool is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_procpool::{Launcher, ProcessPool};
    ///
    /// # braid_procpool::init();
    /// let pool = ProcessPool::builder()
    ///     .workers(1)
    ///     .launcher(Launcher::command("sh", ["-c", "exec \"$BRAID_PROCPOOL_EXE\""]))
    ///     .build()?;
    /// assert!(pool.listen_addr().unwrap().ip().is_loopback());
    /// assert_eq!(ProcessPool::new(1)?.listen_addr(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen_addr
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown(Shutdown::Wait);
    }
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.shared.workers)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

/// Configures and starts a [`ProcessPool`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_procpool::{ProcessPool, StartMethod};
///
/// # braid_procpool::init();
/// let pool = ProcessPool::builder()
///     .workers(4)
///     .start_method(StartMethod::ForkServer)
///     .task_timeout(Duration::from_secs(30))
///     .max_tasks_per_child(1000)
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    workers: Option<usize>,
    start_method: StartMethod,
    max_tasks_per_child: Option<usize>,
    task_timeout: Option<Duration>,
    initializer: Option<fn()>,
    panic_output: PanicOutput,
    frame_limit: Option<usize>,
    launcher: Option<Launcher>,
}

impl Builder {
    /// The number of worker processes; by default the number of CPUs.
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers);
        self
    }

    /// How workers are started; [`StartMethod::Spawn`] by default.
    pub fn start_method(mut self, method: StartMethod) -> Builder {
        self.start_method = method;
        self
    }

    /// Replaces a worker with a fresh one after it ran `n` task messages (a task, or a chunk
    /// of a map), to bound what a leaky task can accumulate.
    pub fn max_tasks_per_child(mut self, n: usize) -> Builder {
        self.max_tasks_per_child = Some(n);
        self
    }

    /// The default timeout of every task: a task that runs longer has its worker killed and
    /// replaced, and yields [`TaskError::TimedOut`].
    pub fn task_timeout(mut self, timeout: Duration) -> Builder {
        self.task_timeout = Some(timeout);
        self
    }

    /// A function every worker runs once before its first task. If it panics in a worker
    /// started by [`build`](Builder::build), `build` fails. If it panics in a later
    /// replacement, the start is retried after a back-off (50 ms, doubling up to 5 s) for as
    /// long as the pool lives, and counted in [`Metrics::start_failures`]. While no worker
    /// runs and every slot's last start failed, queued and new tasks fail at once with
    /// [`TaskError::WorkerStart`], which names the reason; once a worker starts again, the
    /// pool takes work again.
    pub fn initializer(mut self, f: fn()) -> Builder {
        self.initializer = Some(f);
        self
    }

    /// What a worker prints on its standard error when a task panics in it:
    /// [`PanicOutput::Prefixed`] (the default) or [`PanicOutput::Silent`]. The panic's
    /// message reaches the task's handle in [`TaskError::Panicked`] either way.
    ///
    /// A worker sets its own panic hook for this; a hook the program installed before it
    /// started the pool is not used in workers.
    pub fn worker_panic_output(mut self, output: PanicOutput) -> Builder {
        self.panic_output = output;
        self
    }

    /// Starts every worker, the first ones and each replacement, through `launcher`'s
    /// command, which connects back over TCP, instead of as a child of this process; the
    /// [`start_method`](Builder::start_method) is then not used. See [`Launcher`].
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_procpool::{Launcher, ProcessPool};
    ///
    /// # braid_procpool::init();
    /// let pool = ProcessPool::builder()
    ///     .workers(2)
    ///     .launcher(Launcher::command("sh", ["-c", "exec \"$BRAID_PROCPOOL_EXE\""]))
    ///     .build()?;
    /// let sum: u64 = pool.map(|x: u64| x + 1, 0..10, 5).map(Result::unwrap).sum();
    /// assert_eq!(sum, 55);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn launcher(mut self, launcher: impl Into<Launcher>) -> Builder {
        self.launcher = Some(launcher.into());
        self
    }

    /// Lowers the largest message body either side sends below its normal 2 GiB, so that a
    /// test can reach the limit with small values. Not a tuning knob.
    #[doc(hidden)]
    pub fn frame_limit(mut self, bytes: usize) -> Builder {
        self.frame_limit = Some(bytes);
        self
    }

    /// Starts the workers and waits until each one is ready (its initializer done).
    ///
    /// # Errors
    ///
    /// - `InvalidInput` for 0 workers, a `max_tasks_per_child` of 0 or a zero timeout.
    /// - An error if this process is itself a worker whose `main` did not call
    ///   [`init`](crate::init) first.
    /// - The system's error when a process, pipe or thread cannot be made, or the
    ///   executable cannot be found; with a [`launcher`](Builder::launcher), when its
    ///   address cannot be listened on, or its command cannot be run.
    /// - An error naming the reason when a worker fails to start: its initializer panicked,
    ///   or it exited before it was ready (typically because `main` does not call
    ///   [`init`](crate::init) first).
    pub fn build(self) -> Result<ProcessPool, BuildError> {
        let workers = match self.workers {
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if workers == 0 {
            return Err(BuildError::invalid_setting(
                "a process pool needs at least 1 worker, not 0",
            ));
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::invalid_setting(
                "max_tasks_per_child must be at least 1",
            ));
        }
        if self.task_timeout == Some(Duration::ZERO) {
            return Err(BuildError::invalid_setting(
                "a task timeout must be longer than zero",
            ));
        }
        if child::started_without_init() {
            return Err(BuildError::not_initialized());
        }
        let initializer = match self.initializer.map(FnRef::initializer) {
            None => 0,
            Some(Ok(f)) => f.function,
            Some(Err(_)) => {
                return Err(BuildError::invalid_setting(
                    "the initializer must be a function of the program itself, not of a \
                     shared library",
                ))
            }
        };
        let exe = match self.start_method {
            _ if self.launcher.is_some() => None,
            StartMethod::Fork => None,
            StartMethod::Spawn | StartMethod::ForkServer => Some(own_executable()?),
        };
        let command = match self.launcher {
            Some(launcher) => Some(Command::new(launcher, std::env::current_exe()?)?),
            None => None,
        };
        let listen_addr = command.as_ref().map(Command::addr);
        let frame_limit = self.frame_limit.unwrap_or(MAX_FRAME).min(MAX_FRAME);
        let shared = Arc::new(Shared::new(Poller::new()?, self.task_timeout, workers));
        let config = Config {
            workers,
            method: self.start_method,
            exe,
            max_tasks_per_child: self.max_tasks_per_child.map(|n| n as u64),
            worker: WorkerSettings {
                initializer,
                frame_limit,
                panic_output: self.panic_output,
                heartbeat_ms: command.as_ref().map_or(0, |c| {
                    u32::try_from(c.heartbeat.as_millis()).unwrap_or(u32::MAX)
                }),
            },
            command,
        };
        let (report, started) = crossbeam_channel::bounded(1);
        let thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("braid-procpool".into())
                .spawn(move || supervisor::run(shared, config, report))?
        };
        match started.recv() {
            Ok(Ok(())) => Ok(ProcessPool {
                shared,
                listen_addr,
                frame_limit,
                supervisor: Mutex::new(Some(thread)),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(BuildError::from(io::Error::other(
                    "the process pool's supervisor thread ended during start-up",
                )))
            }
        }
    }
}

/// The executable workers run: this very program.
fn own_executable() -> io::Result<PathBuf> {
    // `/proc/self/exe` names this process's image even if the file was replaced on disk.
    if cfg!(target_os = "linux") && std::path::Path::new("/proc/self/exe").exists() {
        return Ok(PathBuf::from("/proc/self/exe"));
    }
    std::env::current_exe()
}

#[cfg(test)]
mod test {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn pools_and_handles_cross_threads() {
        assert_send_sync::<ProcessPool>();
        assert_send_sync::<JoinHandle<String>>();
        assert_send::<Map<Vec<u8>>>();
    }

    #[test]
    fn bad_settings_are_refused_before_any_process_starts() {
        let err = ProcessPool::builder().workers(0).build().unwrap_err();
        assert!(err.is_invalid_setting(), "{err:?}");
        assert!(err.to_string().contains("at least 1 worker"), "{err}");
    }
}
