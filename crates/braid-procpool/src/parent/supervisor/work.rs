//! Work as the supervisor moves it: queued jobs out to idle workers, results back to their
//! handles, and per-task deadlines enforced by killing the worker that overran.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::lifecycle::kill_worker;
use super::worker_process::{
    absorb_handoffs, read_available, retire, send, set_phase, KillReason, Phase, Running,
    KEYS_PER_SLOT,
};
use super::{Supervisor, START_TIMEOUT};
use crate::parent::job::Job;
use crate::parent::settings::Shutdown;
use crate::protocol::{self, FromWorker};
use braid_sys::fd;

impl Supervisor {
    /// Hands queued jobs to idle workers, one each. A busy worker gets nothing more: a job
    /// queued behind a long one in its pipe would wait for it while another worker may free
    /// up first (head-of-line blocking), so every job waits in the one shared queue until a
    /// worker is idle, as in Python's pools.
    pub(super) fn dispatch(&mut self) {
        if self.shutdown == Some(Shutdown::Kill) {
            return;
        }
        let mut queue = self.shared.queue.lock();
        absorb_handoffs(&mut self.slots, &mut queue);
        for index in 0..self.slots.len() {
            let Some(worker) = &mut self.slots[index].worker else {
                continue;
            };
            if worker.phase != Phase::Idle {
                continue;
            }
            let job = loop {
                match queue.jobs.pop_front() {
                    Some(job) if job.claimed || job.sink.start() => break Some(job),
                    Some(_cancelled) => continue,
                    None => break None,
                }
            };
            let Some(job) = job else { return };
            if let Err(e) = send(
                worker,
                &job.message,
                &self.shared.poller,
                index * KEYS_PER_SLOT,
            ) {
                tracing::debug!("braid-procpool: sending a task failed: {e}");
                // The worker died while idle: the job never reached it. It goes back to the
                // queue, and the worker gets nothing more; its death, about to be seen, frees
                // the slot.
                set_phase(worker, index, Phase::Busy, &mut queue);
                queue.jobs.push_front(Job {
                    claimed: true,
                    ..job
                });
                // Should it still live, a worker that cannot take work must go.
                let _ = kill_worker(worker);
                continue;
            }
            let mut running = Running::new(job);
            running.start_clock(Instant::now());
            worker.running.push_back(running);
            set_phase(worker, index, Phase::Busy, &mut queue);
        }
    }

    pub(super) fn on_results(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let eof = match read_available(worker) {
            Ok(eof) => eof,
            Err(e) => {
                tracing::debug!("braid-procpool: reading a worker's results failed: {e}");
                true
            }
        };
        self.process_inbox(index);
        if eof {
            self.on_results_closed(index);
        }
    }

    /// Parses every complete message a worker sent.
    pub(super) fn process_inbox(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let inbox = std::mem::take(&mut worker.inbox);
        let mut used = 0;
        loop {
            if self.slots[index]
                .worker
                .as_ref()
                .is_some_and(|w| matches!(w.killed, Some(KillReason::Protocol(_))))
            {
                // Whatever follows a breach may be anything, a well-formed result included.
                used = inbox.len();
                break;
            }
            match protocol::split_frame(&inbox[used..]) {
                Ok(Some((body, len))) => {
                    used += len;
                    self.on_message(index, body);
                }
                Ok(None) => break,
                Err(len) => {
                    self.protocol_error(index, format!("the worker sent a frame of {len} bytes"));
                    used = inbox.len();
                    break;
                }
            }
        }
        if let Some(worker) = &mut self.slots[index].worker {
            let mut inbox = inbox;
            inbox.drain(..used);
            worker.inbox = inbox;
        }
    }

    fn on_message(&mut self, index: usize, body: &[u8]) {
        let max_tasks = self.config.max_tasks_per_child;
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let message = match FromWorker::decode(body) {
            Ok(message) => message,
            Err(reason) => return self.protocol_error(index, reason),
        };
        match message {
            FromWorker::Ready { pid, fingerprint } if worker.phase == Phase::Starting => {
                if fingerprint != self.fingerprint {
                    self.protocol_error(
                        index,
                        "the worker runs a different build of this program".into(),
                    );
                    return;
                }
                worker.pid = worker.pid.or(Some(pid));
                set_phase(worker, index, Phase::Idle, &mut self.shared.queue.lock());
                worker.counted = true;
                self.start_succeeded(index);
                self.shared.counters.workers.fetch_add(1, Ordering::Relaxed);
                self.report_startup_if_ready();
            }
            // Told to stop while it was starting: it exits after this on its own.
            FromWorker::Ready { .. } if worker.phase == Phase::Retiring => {}
            FromWorker::InitFailed(message) => {
                worker.start_error = Some(format!("the initializer panicked: {message}"));
            }
            FromWorker::Results(outcomes) => {
                if worker.running.is_empty() {
                    // A submitting thread handed this worker its job after this turn began.
                    absorb_handoffs(&mut self.slots, &mut self.shared.queue.lock());
                }
                let Some(worker) = &mut self.slots[index].worker else {
                    return;
                };
                if worker.phase != Phase::Busy {
                    self.protocol_error(index, "the worker sent a result it owed no one".into());
                    return;
                }
                let Some(running) = worker.running.pop_front() else {
                    return;
                };
                if let Some(next) = worker.running.front_mut() {
                    next.start_clock(Instant::now());
                }
                let counters = &self.shared.counters;
                counters
                    .tasks_done
                    .fetch_add(u64::from(outcomes.items()), Ordering::Relaxed);
                let panics = outcomes
                    .clone()
                    .filter(|(status, _)| *status == protocol::ITEM_PANICKED)
                    .count();
                if panics > 0 {
                    counters.panics.fetch_add(panics as u64, Ordering::Relaxed);
                }
                running.sink.deliver(outcomes);
                worker.tasks_done += 1;
                if !worker.running.is_empty() {
                    // The next job is already in the pipe.
                } else if max_tasks.is_some_and(|max| worker.tasks_done >= max) {
                    retire(worker, index, &self.shared, &mut self.shared.queue.lock());
                } else {
                    set_phase(worker, index, Phase::Idle, &mut self.shared.queue.lock());
                }
            }
            _ => self.protocol_error(index, "the worker sent an unexpected message".into()),
        }
    }

    /// A worker that breaks the protocol cannot be trusted with more work.
    fn protocol_error(&mut self, index: usize, reason: String) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        tracing::error!("braid-procpool: {reason}; killing worker {:?}", worker.pid);
        if worker.phase == Phase::Starting {
            worker.start_error.get_or_insert(reason);
            worker.killed.get_or_insert(KillReason::StartFailure);
        } else {
            // Every reason starts "the worker ...": name which one, for the task's error.
            let reason = match (worker.pid, reason.strip_prefix("the worker ")) {
                (Some(pid), Some(what)) => format!("worker process {pid} {what}"),
                _ => reason,
            };
            worker.killed.get_or_insert(KillReason::Protocol(reason));
        }
        let _ = kill_worker(worker);
    }

    pub(super) fn on_tasks_writable(&mut self, index: usize) {
        let poller = &self.shared.poller;
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(tasks) = &worker.tasks else { return };
        if worker.outbox.is_empty() {
            return;
        }
        match fd::write(tasks.as_raw_fd(), &worker.outbox) {
            Ok(n) => {
                worker.outbox.drain(..n);
                if worker.outbox.is_empty() {
                    let _ = poller.delete(tasks.as_fd());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                // The worker is gone; its exit will be seen on the other descriptors. The
                // unsent bytes stay, uncounted as sent, so that the exit can tell that the
                // job they belong to never reached the worker.
                let _ = poller.delete(tasks.as_fd());
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.worker.as_ref())
            .filter(|w| w.killed.is_none())
            .filter_map(|w| match w.phase {
                Phase::Starting => Some(w.start_deadline),
                Phase::Busy => w.running.front()?.deadline,
                _ => None,
            })
            .min()
    }

    pub(super) fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            let Some(worker) = &mut slot.worker else {
                continue;
            };
            if worker.killed.is_some() {
                continue;
            }
            let reason = match worker.phase {
                Phase::Starting if worker.start_deadline <= now => {
                    worker.start_error =
                        Some(format!("the worker was not ready within {START_TIMEOUT:?}"));
                    KillReason::StartFailure
                }
                Phase::Busy
                    if worker
                        .running
                        .front()
                        .and_then(|r| r.deadline)
                        .is_some_and(|d| d <= now) =>
                {
                    KillReason::Timeout
                }
                _ => continue,
            };
            worker.killed = Some(reason);
            let _ = kill_worker(worker);
        }
    }
}
