/// Counters of what a loop has done, from [`EventLoop::metrics`](crate::EventLoop::metrics).
///
/// # Examples
///
/// ```
/// let event_loop = braid_executor::EventLoop::new()?;
/// event_loop.block_on(async {
///     braid_executor::spawn(async {}).await.unwrap();
/// });
/// let metrics = event_loop.metrics();
/// assert_eq!(metrics.tasks_spawned, 1);
/// assert_eq!(metrics.tasks_alive, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Tasks spawned on the loop so far (counted when the loop first sees them).
    pub tasks_spawned: u64,
    /// Tasks whose future is still alive: neither finished nor dropped by a cancel.
    pub tasks_alive: u64,
    /// Task polls so far (the future given to `block_on` is not counted).
    pub polls: u64,
    /// I/O readiness events the poller delivered.
    pub io_events: u64,
    /// Timers (sleeps and timeouts) that expired and woke their task.
    pub timers_fired: u64,
    /// Polls that took longer than the slow-poll threshold, each of which logged a warning:
    /// polls of tasks, and of the future given to `block_on` or `run`.
    pub slow_polls: u64,
    /// Jobs handed to the blocking pool: [`spawn_blocking`](crate::spawn_blocking) calls,
    /// and host-name lookups ([`net::lookup_host`](crate::net::lookup_host) and the sockets
    /// given a name). A numeric address is never looked up, so it never counts here.
    pub blocking_jobs: u64,
    /// Times the loop gave its core away before sleeping
    /// ([`yield_before_sleep`](crate::Builder::yield_before_sleep)).
    pub yields: u64,
    /// Of those, the ones that lasted 250 µs or more: a thread that never blocks shares the
    /// core and took a whole scheduler slice, or the loop's feeders ran that long.
    pub slow_yields: u64,
    /// Times the loop slept without yielding first, although told to yield, because recent
    /// yields were slow and brought at most one event: they gave the core to a thread that
    /// does not feed the loop. Such a yield holds back the next 8, doubling up to 1,024
    /// while yields keep being wasted. If this grows with `yields`, a CPU-bound thread
    /// shares the loop's core.
    pub yields_held_back: u64,
}
