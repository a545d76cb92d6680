//! Configuring a [`Runtime`] before its threads start.

use std::time::Duration;

use super::Runtime;
use crate::build_error::BuildError;
use crate::event_loop::DEFAULT_SLOW_POLL_THRESHOLD;

/// How [`Runtime::serve`] spreads the connections it accepts over the loops.
///
/// Either way a connection stays on the loop that took it, for its whole life.
///
/// # Examples
///
/// ```
/// use braid_executor::runtime::{Balance, Runtime};
///
/// let runtime = Runtime::builder()
///     .loops(2)
///     .balance(Balance::RoundRobin)
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Balance {
    /// Every loop has a listening socket of its own on the same port (`SO_REUSEPORT`), and
    /// the kernel picks the loop for each connection from a hash of its addresses. No thread
    /// hands anything to another, so it is the fastest; the spread is even over many
    /// clients, uneven over a few. Linux only; the default there.
    ///
    /// As with any `SO_REUSEPORT` server, a second listener on the same port that sets the
    /// option too (another `serve`, or a process of the same user) is not refused with
    /// `AddrInUse`: it joins, and takes a share of the connections.
    ReusePort,
    /// Loop 0 accepts every connection and deals them to the loops in turn (0, 1, 2, ...
    /// then 0 again), skipping a loop whose thread has died: an exact spread, for one
    /// hand-off between threads per connection.
    /// The default where `ReusePort` is not available.
    RoundRobin,
}

impl Default for Balance {
    /// [`ReusePort`](Balance::ReusePort) on Linux, [`RoundRobin`](Balance::RoundRobin)
    /// elsewhere (other systems' `SO_REUSEPORT` does not spread connections, or spreads them
    /// differently).
    fn default() -> Balance {
        if cfg!(target_os = "linux") {
            Balance::ReusePort
        } else {
            Balance::RoundRobin
        }
    }
}

/// Configures a [`Runtime`]; from [`Runtime::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::Runtime;
///
/// let runtime = Runtime::builder()
///     .loops(2)
///     .thread_name("server")
///     .slow_poll_threshold(Duration::from_millis(20))
///     .blocking_threads(4)
///     .build()?;
/// assert_eq!(runtime.loops(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until .build() is called"]
pub struct Builder {
    pub(super) loops: Option<usize>,
    pub(super) thread_name: String,
    pub(super) slow_poll_threshold: Duration,
    pub(super) blocking_threads: Option<usize>,
    pub(super) shutdown_timeout: Duration,
    pub(super) balance: Balance,
    pub(super) yield_before_sleep: bool,
}

impl Builder {
    pub(super) fn new() -> Builder {
        Builder {
            loops: None,
            thread_name: "braid-loop".to_owned(),
            slow_poll_threshold: DEFAULT_SLOW_POLL_THRESHOLD,
            blocking_threads: None,
            shutdown_timeout: crate::blocking::DEFAULT_SHUTDOWN_TIMEOUT,
            balance: Balance::default(),
            yield_before_sleep: true,
        }
    }

    /// How many loops, each on a thread of its own. Default: one per CPU
    /// (`std::thread::available_parallelism`).
    pub fn loops(mut self, loops: usize) -> Builder {
        self.loops = Some(loops);
        self
    }

    /// Names the loop threads `{prefix}-0`, `{prefix}-1`, ... Default: `braid-loop`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Each loop's slow-poll threshold, as
    /// [`EventLoop`'s](crate::Builder::slow_poll_threshold). Default: 100 ms.
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) may start, as
    /// [`EventLoop`'s](crate::Builder::blocking_threads); the loops share one pool.
    /// Default: 512, started on demand.
    pub fn blocking_threads(mut self, threads: usize) -> Builder {
        self.blocking_threads = Some(threads);
        self
    }

    /// How long dropping the runtime waits for [`spawn_blocking`](crate::spawn_blocking) jobs
    /// still running, once its loops have ended, as
    /// [`EventLoop`'s](crate::Builder::shutdown_timeout). Default: 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether each loop yields its core once before sleeping, as
    /// [`EventLoop`'s](crate::Builder::yield_before_sleep) does, holding its yields back
    /// while they are wasted. Default: `true`, unlike a single `EventLoop`'s: a runtime's
    /// loops take every core, so any other thread of the program, including the ones that
    /// feed the loops, shares a core with one. On 2 cores, two loops and a client thread made
    /// about 175k echo round trips/s with it and 125k without. `false` makes each loop sleep
    /// in its poller as soon as it runs out of work.
    pub fn yield_before_sleep(mut self, yield_first: bool) -> Builder {
        self.yield_before_sleep = yield_first;
        self
    }

    /// How [`Runtime::serve`] spreads connections over the loops. Default:
    /// [`Balance::default`].
    pub fn balance(mut self, balance: Balance) -> Builder {
        self.balance = balance;
        self
    }

    /// Starts the loop threads and returns once every loop runs.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] that [`is_invalid_setting`](BuildError::is_invalid_setting) if
    /// `loops` or `blocking_threads` was set to 0, or the thread name holds a NUL byte;
    /// [`is_unsupported`](BuildError::is_unsupported) for [`Balance::ReusePort`] off Linux;
    /// [`is_os`](BuildError::is_os) with what starting a thread or a loop's poller reports
    /// (typically running out of threads or file descriptors), after the loops already
    /// started have been stopped.
    pub fn build(self) -> Result<Runtime, BuildError> {
        if self.loops == Some(0) {
            return Err(BuildError::invalid_setting(
                "a runtime needs at least 1 loop; leave `loops` unset for one per CPU",
            ));
        }
        if self.thread_name.contains('\0') {
            return Err(BuildError::invalid_setting(
                "the runtime's thread name must not contain a NUL byte",
            ));
        }
        if self.balance == Balance::ReusePort && !cfg!(target_os = "linux") {
            return Err(BuildError::unsupported(
                "Balance::ReusePort spreads connections only on Linux; use Balance::RoundRobin",
            ));
        }
        Runtime::start(self)
    }
}
