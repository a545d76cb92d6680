//! Counters a pool exposes about its work.

/// A snapshot of a pool's activity, from [`ThreadPool::metrics`](crate::ThreadPool::metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub(crate) workers: Vec<WorkerMetrics>,
    pub(crate) queued: usize,
    pub(crate) heartbeats: u64,
}

impl Metrics {
    /// One entry per worker, in worker order.
    pub fn workers(&self) -> &[WorkerMetrics] {
        &self.workers
    }

    /// Jobs waiting in the pool's queues when the snapshot was taken, promoted `join` halves
    /// that no worker has taken yet included.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Rounds the pool's heartbeat has ticked since the pool started. While any worker is busy
    /// the heartbeat ticks about every 100 µs, letting each worker offer one pending `join` half
    /// to the others; while the pool is idle it sleeps, and this number stands still. A pool
    /// with one worker has no heartbeat.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// assert_eq!(pool.metrics().heartbeats(), 0);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn heartbeats(&self) -> u64 {
        self.heartbeats
    }

    /// Jobs started by all workers together.
    pub fn tasks_run(&self) -> u64 {
        self.workers.iter().map(WorkerMetrics::tasks_run).sum()
    }

    /// Jobs all workers together took from another worker's deque.
    pub fn tasks_stolen(&self) -> u64 {
        self.workers.iter().map(WorkerMetrics::tasks_stolen).sum()
    }
}

/// What one worker has done since the pool started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerMetrics {
    pub(crate) tasks_run: u64,
    pub(crate) tasks_stolen: u64,
}

impl WorkerMetrics {
    /// Jobs this worker took from a queue and started: submitted tasks (cancelled ones too,
    /// which it took off the queue only to drop them), scope spawns, and the second halves of
    /// `join`s that were not run inline by the thread that forked them.
    pub fn tasks_run(&self) -> u64 {
        self.tasks_run
    }

    /// Of those, the jobs it took from another worker's deque.
    pub fn tasks_stolen(&self) -> u64 {
        self.tasks_stolen
    }
}
