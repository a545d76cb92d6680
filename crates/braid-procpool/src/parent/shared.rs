//! What the pool's handles share with the supervisor thread: the job queue, the idle
//! workers a submitting thread may write to directly, and the counters behind `Metrics`.
//! `README.md` beside this file describes the hand-off.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::{Duration, Instant};

use braid_poller::Poller;
use braid_sys::fd;
use parking_lot::{Condvar, Mutex, MutexGuard};

use super::error::TaskError;
use super::job::Job;
use super::settings::Shutdown;
use crate::protocol;

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) tasks_done: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) worker_deaths: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) respawns: AtomicU64,
    pub(crate) start_failures: AtomicU64,
    pub(crate) taken_back: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) workers: AtomicUsize,
}

/// What the pool's handles share with its supervisor thread.
pub(crate) struct Shared {
    pub(crate) queue: Mutex<Queue>,
    pub(crate) poller: Poller,
    pub(crate) counters: Counters,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) workers: usize,
    /// Set when the supervisor thread has reaped every process and is about to end.
    finished: Mutex<bool>,
    finished_signal: Condvar,
}

/// Jobs waiting for a worker, and workers waiting for a job; never both at once, except for
/// a moment after a failed hand-over, which the supervisor is woken to sort out.
pub(crate) struct Queue {
    pub(crate) jobs: VecDeque<Job>,
    /// Idle workers a submitting thread may hand a small job to directly, without a round
    /// trip through the supervisor thread.
    pub(crate) idle: Vec<IdleWorker>,
    /// Jobs handed to idle workers by submitting threads, for the supervisor to take note of.
    pub(crate) handed: Vec<Handoff>,
    /// The strongest shutdown asked for; no job is accepted once set.
    pub(crate) closing: Option<Shutdown>,
    /// Why the pool has no worker, while every slot's last start failed; cleared when a
    /// worker starts again.
    pub(crate) broken: Option<String>,
    /// The last ticket stamped in a task message; the next one sent gets one more, so that
    /// tickets start at 1 and none repeats.
    pub(crate) last_ticket: u64,
}

/// An idle worker's task pipe, lent to submitting threads while the queue lock is held. The
/// supervisor removes the entry (under the lock) before it closes the descriptor.
pub(crate) struct IdleWorker {
    pub(crate) slot: usize,
    pub(crate) serial: u64,
    pub(crate) tasks: RawFd,
    /// Whether a submitting thread may write to `tasks` (a pipe); otherwise the entry only
    /// tells that a worker is idle, and the supervisor sends it its job.
    pub(crate) direct: bool,
}

/// A job a submitting thread wrote to an idle worker.
pub(crate) struct Handoff {
    pub(crate) slot: usize,
    pub(crate) serial: u64,
    pub(crate) job: Job,
    pub(crate) started: Instant,
}

/// Jobs up to this size are written to an idle worker by the submitting thread: a pipe write
/// of at most `PIPE_BUF` bytes is all or nothing, and an idle worker's pipe is empty.
const DIRECT_MAX: usize = 512;

impl Queue {
    /// A fresh ticket for a task message about to be sent.
    pub(crate) fn next_ticket(&mut self) -> u64 {
        self.last_ticket += 1;
        self.last_ticket
    }
}

impl Shared {
    pub(crate) fn new(poller: Poller, task_timeout: Option<Duration>, workers: usize) -> Shared {
        Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                idle: Vec::new(),
                handed: Vec::new(),
                closing: None,
                last_ticket: 0,
                broken: None,
            }),
            poller,
            counters: Counters::default(),
            task_timeout,
            workers,
            finished: Mutex::new(false),
            finished_signal: Condvar::new(),
        }
    }

    /// Queues a job, or fails it at once if the pool accepts no more work.
    pub(crate) fn push(&self, job: Job) {
        let mut queue = self.queue.lock();
        let refusal = if queue.closing.is_some() {
            Some(TaskError::ShutDown)
        } else {
            queue
                .broken
                .as_ref()
                .map(|reason| TaskError::WorkerStart(reason.clone()))
        };
        if let Some(error) = refusal {
            drop(queue);
            job.sink.fail(error);
            return;
        }
        if job.message.len() <= DIRECT_MAX && queue.jobs.is_empty() {
            if let Some(at) = queue.idle.iter().rposition(|idle| idle.direct) {
                let idle = queue.idle.swap_remove(at);
                return self.hand_over(queue, idle, job);
            }
        }
        let idle = !queue.idle.is_empty();
        queue.jobs.push_back(job);
        drop(queue);
        if idle {
            // A failed wake-up leaves the job for the supervisor's next turn.
            let _ = self.poller.notify();
        }
    }

    /// Writes a small job straight to an idle worker's pipe, which the held queue lock keeps
    /// open, and leaves a note for the supervisor.
    fn hand_over(&self, mut queue: MutexGuard<'_, Queue>, idle: IdleWorker, mut job: Job) {
        // A fresh job cannot have been cancelled yet, but be sure.
        if !job.sink.start() {
            queue.idle.push(idle);
            return;
        }
        job.claimed = true;
        let ticket = queue.next_ticket();
        protocol::stamp_ticket(&mut job.message, ticket);
        if fd::write(idle.tasks, &job.message).is_ok_and(|n| n == job.message.len()) {
            let timed = job.timeout.is_some();
            queue.handed.push(Handoff {
                slot: idle.slot,
                serial: idle.serial,
                job,
                started: Instant::now(),
            });
            drop(queue);
            if timed {
                // The supervisor must learn the deadline.
                let _ = self.poller.notify();
            }
            return;
        }
        // The worker is dying (its pipe has no reader): the supervisor, about to see the
        // death, gives the job to another worker.
        queue.jobs.push_front(job);
        drop(queue);
        let _ = self.poller.notify();
    }

    pub(crate) fn mark_finished(&self) {
        *self.finished.lock() = true;
        self.finished_signal.notify_all();
    }

    pub(crate) fn wait_finished(&self) {
        let mut finished = self.finished.lock();
        while !*finished {
            self.finished_signal.wait(&mut finished);
        }
    }
}
