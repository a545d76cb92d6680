//! Configuring and starting a pool.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread;

use crossbeam_deque::Worker;

use crate::heartbeat;
use crate::pool::{Hook, Shared, Shutdown, ThreadPool};
use crate::sleep::MAX_SLEEPERS;
use crate::worker;

/// The heartbeat thread only sleeps and stores flags.
const HEARTBEAT_STACK: usize = 64 * 1024;

/// Configures a [`ThreadPool`] before starting it.
///
/// # Examples
///
/// ```
/// use braid_threadpool::ThreadPool;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let counter = started.clone();
/// let pool = ThreadPool::builder()
///     .workers(3)
///     .thread_name("crunch")
///     .stack_size(4 << 20)
///     .on_thread_start(move |_index| {
///         counter.fetch_add(1, Ordering::SeqCst);
///     })
///     .build()?;
/// let name = pool.submit(|| std::thread::current().name().map(str::to_owned));
/// assert!(name.join().unwrap().unwrap().starts_with("crunch-"));
/// drop(pool);
/// assert_eq!(started.load(Ordering::SeqCst), 3);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
#[must_use = "a Builder does nothing until `build` is called"]
pub struct Builder {
    workers: Option<usize>,
    thread_name: Option<String>,
    stack_size: Option<usize>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
}

impl Builder {
    /// A builder with the defaults: one worker per available CPU, threads named
    /// `braid-worker-<index>`, the platform's default stack size, no callbacks.
    pub fn new() -> Builder {
        Builder {
            workers: None,
            thread_name: None,
            stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }

    /// The number of worker threads (at least one).
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers);
        self
    }

    /// Names the threads `<prefix>-<index>`, which shows in debuggers, `top -H` and panic
    /// messages. A pool of more than one worker also runs a thread named `<prefix>-heartbeat`,
    /// which paces how `join` hands work to idle workers and sleeps while the pool is idle.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = Some(prefix.into());
        self
    }

    /// The stack size of each worker thread, in bytes. Deeply nested `join`s need more than
    /// the default.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs `hook` on each worker thread as it starts, with the worker's index. A panic in the
    /// hook is caught and ignored.
    pub fn on_thread_start<F>(mut self, hook: F) -> Builder
    where
        F: Fn(usize) + Send + Sync + 'static,
    {
        self.on_thread_start = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on each worker thread as it exits, with the worker's index. A panic in the
    /// hook is caught and ignored.
    pub fn on_thread_stop<F>(mut self, hook: F) -> Builder
    where
        F: Fn(usize) + Send + Sync + 'static,
    {
        self.on_thread_stop = Some(Arc::new(hook));
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoWorkers`] for zero workers, [`BuildError::TooManyWorkers`] above the
    /// limit, [`BuildError::InvalidStackSize`] for a zero stack size, and
    /// [`BuildError::Spawn`] if the operating system refuses a thread (the threads started so
    /// far are stopped again).
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let workers = match self.workers {
            Some(workers) => workers,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if workers == 0 {
            return Err(BuildError::NoWorkers);
        }
        if workers > MAX_SLEEPERS {
            return Err(BuildError::TooManyWorkers {
                requested: workers,
                max: MAX_SLEEPERS,
            });
        }
        if self.stack_size == Some(0) {
            return Err(BuildError::InvalidStackSize);
        }
        let prefix = self.thread_name.as_deref().unwrap_or("braid-worker");

        let locals: Vec<Worker<_>> = (0..workers).map(|_| Worker::new_lifo()).collect();
        let stealers = locals.iter().map(Worker::stealer).collect();
        let pool = ThreadPool {
            shared: Arc::new(Shared::new(stealers)),
        };
        for (index, local) in locals.into_iter().enumerate() {
            let mut builder = thread::Builder::new().name(format!("{prefix}-{index}"));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let shared = pool.shared.clone();
            let on_start = self.on_thread_start.clone();
            let on_stop = self.on_thread_stop.clone();
            let spawned =
                builder.spawn(move || worker::main(shared, local, index, on_start, on_stop));
            match spawned {
                Ok(thread) => crate::sync::lock(&pool.shared.threads).push(thread),
                Err(error) => {
                    // Dropping the pool stops and joins the workers already started.
                    pool.shutdown(Shutdown::Wait);
                    return Err(BuildError::Spawn(error));
                }
            }
        }
        // With one worker there is nobody to hand a `join` half to, so no heartbeat either.
        if workers > 1 {
            let shared = pool.shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{prefix}-heartbeat"))
                .stack_size(HEARTBEAT_STACK)
                .spawn(move || heartbeat::main(shared));
            match spawned {
                Ok(thread) => crate::sync::lock(&pool.shared.threads).push(thread),
                Err(error) => {
                    pool.shutdown(Shutdown::Wait);
                    return Err(BuildError::Spawn(error));
                }
            }
        }
        Ok(pool)
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .finish()
    }
}

/// Why a [`ThreadPool`] could not be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// Zero workers were asked for.
    NoWorkers,
    /// More workers were asked for than a pool supports.
    TooManyWorkers {
        /// The number asked for.
        requested: usize,
        /// The largest number allowed.
        max: usize,
    },
    /// A stack size of zero bytes was asked for.
    InvalidStackSize,
    /// The operating system refused to start a worker thread.
    Spawn(io::Error),
}

impl BuildError {
    /// True if a setting was out of range: no workers, too many, or a zero stack size. The
    /// same question the executor's and the process pool's build errors answer.
    pub fn is_invalid_setting(&self) -> bool {
        matches!(
            self,
            BuildError::NoWorkers
                | BuildError::TooManyWorkers { .. }
                | BuildError::InvalidStackSize
        )
    }

    /// True if the operating system refused a thread; [`BuildError::os_error`] says why.
    pub fn is_os(&self) -> bool {
        matches!(self, BuildError::Spawn(_))
    }

    /// The operating system's error, when [`is_os`](BuildError::is_os).
    pub fn os_error(&self) -> Option<&io::Error> {
        match self {
            BuildError::Spawn(error) => Some(error),
            _ => None,
        }
    }
}

/// For `?` in functions that return `io::Result`: a setting out of range becomes
/// `InvalidInput`, a refused thread its own error.
impl From<BuildError> for io::Error {
    fn from(error: BuildError) -> io::Error {
        match error {
            BuildError::Spawn(error) => error,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoWorkers => f.write_str(
                "a thread pool needs at least one worker; pass a worker count of 1 or more",
            ),
            BuildError::TooManyWorkers { requested, max } => write!(
                f,
                "{requested} workers were requested but a thread pool supports at most {max}"
            ),
            BuildError::InvalidStackSize => f.write_str(
                "a worker stack size of 0 bytes was requested; pass a size in bytes, or leave it unset for the default",
            ),
            BuildError::Spawn(error) => write!(
                f,
                "could not start a worker thread ({error}); lower the worker count or the stack size"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(error) => Some(error),
            _ => None,
        }
    }
}
