//! Work as the supervisor moves it: queued jobs out to idle workers, results back to their
//! handles, and per-task deadlines enforced by killing the worker that overran.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::lifecycle::kill_worker;
use super::worker_process::{
    absorb_handoffs, may_go_ahead, read_available, retire, send, send_packet, set_phase, take_back,
    takes_more, KillReason, Phase, Running, Slot, WorkerProcess, KEYS_PER_SLOT,
};
use super::{Supervisor, LOOK_AGAIN};
use crate::parent::settings::{Shutdown, HEARTBEATS_MISSED};
use crate::parent::shared::Queue;
use crate::protocol::{self, FromWorker};
use braid_sys::fd;
use braid_sys::process::{self, ExitStatus};

/// The most jobs a worker holds at once (where it can hold more than one): enough that a
/// burst of short tasks keeps it busy between two turns of this thread, few enough that
/// taking them back stays cheap.
const AHEAD: usize = 32;

/// A worker holds more than two jobs only while at least this many per worker are queued.
const AHEAD_FROM: usize = 8;

impl Supervisor {
    /// Hands queued jobs to workers.
    ///
    /// A worker gets its share of the queue: one job where the system has no packet pipes;
    /// else two while only a few jobs wait ([`AHEAD_FROM`]), and up to [`AHEAD`] in a burst,
    /// so that it runs short tasks back to back without waiting for this thread between them. A busy worker whose pipe runs low is topped up the same
    /// way. A job queued behind a long one in a pipe would wait for it while another worker
    /// frees up, so whenever a worker is idle and the queue is empty, the jobs other workers
    /// have not read yet are taken back ([`take_back`]) and shared out again: no job waits
    /// while a worker idles, as with Python's one shared queue.
    pub(super) fn dispatch(&mut self) {
        if self.shutdown == Some(Shutdown::Kill) {
            return;
        }
        let max_tasks = self.config.max_tasks_per_child;
        let mut queue = self.shared.queue.lock();
        absorb_handoffs(&mut self.slots, &mut queue);
        let taken = take_back_for_idle(&mut self.slots, &mut queue);
        if taken > 0 {
            let counters = &self.shared.counters;
            counters.taken_back.fetch_add(taken, Ordering::Relaxed);
        }
        if queue.jobs.is_empty() {
            return;
        }
        let serving = self
            .slots
            .iter()
            .filter_map(|s| s.worker.as_ref())
            .filter(|w| matches!(w.phase, Phase::Idle | Phase::Busy) && w.killed.is_none())
            .count();
        // A worker holds the job it runs and one more, so that it need not wait for this
        // thread between two jobs (as Python's executor keeps one call queued beyond its
        // workers); in a burst it holds its share of the queue, up to `AHEAD`. The rest wait
        // in the queue, where `cancel` still reaches them.
        let serving = serving.max(1);
        let burst = queue.jobs.len() >= AHEAD_FROM * serving;
        let share = if burst {
            queue.jobs.len().div_ceil(serving).min(AHEAD)
        } else {
            2
        };
        let top_up_at = if burst { share / 2 } else { 1 };
        // Idle workers first, then busy ones whose pipes run low.
        for busy in [false, true] {
            for index in 0..self.slots.len() {
                let Some(worker) = &mut self.slots[index].worker else {
                    continue;
                };
                let wanted = if busy {
                    worker.phase == Phase::Busy
                        && !worker.passed_over
                        && worker.running.len() <= top_up_at
                        && takes_more(worker)
                } else {
                    worker.phase == Phase::Idle
                };
                if !wanted {
                    continue;
                }
                let left = max_tasks.map_or(usize::MAX, |max| {
                    usize::try_from(max.saturating_sub(worker.tasks_done)).unwrap_or(usize::MAX)
                });
                // Outside a burst an idle worker gets one job here, and its second in the
                // busy pass, once every idle worker has had one.
                let target = match (worker.recall.is_some(), busy || burst) {
                    (false, _) => 1,
                    (true, true) => share,
                    (true, false) => 1,
                };
                while worker.running.len() < target.min(left) {
                    let Some(front) = queue.jobs.front() else {
                        return;
                    };
                    // Behind another job only what fits a packet, and nothing behind a big one.
                    let behind_another = !worker.running.is_empty();
                    if behind_another
                        && !(may_go_ahead(&front.message, front.timeout) && takes_more(worker))
                    {
                        break;
                    }
                    let Some(mut job) = queue.jobs.pop_front() else {
                        return;
                    };
                    if !(job.claimed || job.sink.start()) {
                        // Cancelled while queued.
                        continue;
                    }
                    job.claimed = true;
                    let ticket = queue.next_ticket();
                    protocol::stamp_ticket(&mut job.message, ticket);
                    let sent = if worker.running.is_empty() {
                        send(
                            worker,
                            &job.message,
                            &self.shared.poller,
                            index * KEYS_PER_SLOT,
                        )
                        .map(|()| true)
                    } else {
                        send_packet(worker, &job.message)
                    };
                    match sent {
                        Ok(true) => {}
                        Ok(false) => {
                            // Its pipe is full: the job waits for the next turn.
                            queue.jobs.push_front(job);
                            break;
                        }
                        Err(e) => {
                            tracing::debug!("braid-procpool: sending a task failed: {e}");
                            // The job never reached the worker. It goes back to the queue,
                            // and the worker gets nothing more; its death, about to be seen,
                            // settles what it holds and frees the slot.
                            queue.jobs.push_front(job);
                            if worker.running.is_empty() {
                                set_phase(worker, index, Phase::Busy, &mut queue);
                                // Should it still live, a worker that cannot take work must go.
                                let _ = kill_worker(worker);
                            }
                            break;
                        }
                    }
                    let mut running = Running::new(job, ticket);
                    if worker.running.is_empty() {
                        running.start_clock(Instant::now());
                    }
                    worker.running.push_back(running);
                    if worker.phase == Phase::Idle {
                        set_phase(worker, index, Phase::Busy, &mut queue);
                    }
                }
            }
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
        if worker.socket {
            // Any bytes, a heartbeat or a result, say the worker is alive.
            worker.last_heard = Instant::now();
        }
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
            FromWorker::Ready {
                pid,
                fingerprint,
                node,
            } if worker.phase == Phase::Starting => {
                if fingerprint != self.fingerprint {
                    self.protocol_error(
                        index,
                        "the worker runs a different build of this program".into(),
                    );
                    return;
                }
                worker.pid = worker.pid.or(Some(pid));
                if worker.socket && !node.is_empty() {
                    worker.node = Some(node.to_owned());
                }
                set_phase(worker, index, Phase::Idle, &mut self.shared.queue.lock());
                worker.counted = true;
                self.start_succeeded(index);
                self.shared.counters.workers.fetch_add(1, Ordering::Relaxed);
                self.report_startup_if_ready();
            }
            // Told to stop while it was starting: it exits after this on its own.
            FromWorker::Ready { .. } if worker.phase == Phase::Retiring => {}
            // Its arrival was the point (`last_heard`).
            FromWorker::Alive => {}
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
                if worker.running.front().map(|r| r.ticket) != Some(outcomes.ticket()) {
                    let reason = format!(
                        "the worker sent a result for task #{}, which it does not hold",
                        outcomes.ticket()
                    );
                    self.protocol_error(index, reason);
                    return;
                }
                worker.passed_over = false;
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
            .filter_map(|w| {
                if w.killed.is_some() {
                    // Only the end of a launcher's grace is still to come, or a look.
                    return w.launcher_grace.into_iter().chain(w.look_at).min();
                }
                let phase = match w.phase {
                    Phase::Starting => w.start_deadline,
                    Phase::Busy => w.running.front().and_then(|r| r.deadline),
                    _ => None,
                };
                phase
                    .into_iter()
                    .chain(w.launcher_grace)
                    .chain(w.look_at)
                    .chain(self.silence_deadline(w))
                    .min()
            })
            .min()
    }

    pub(super) fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        let start_timeout = self.start_timeout;
        let silence = self.silence_limit();
        let mut reaped = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(worker) = &mut slot.worker else {
                continue;
            };
            let look = worker.look_at.is_some_and(|at| at <= now)
                || worker.launcher_grace.is_some_and(|at| at <= now);
            if look && worker.pidfd.is_none() && worker.exit.is_none() {
                // No pidfd tells when a launcher has ended: look, without waiting.
                if let Some(pid) = worker.pid {
                    match process::wait_pid(pid, false) {
                        Ok(Some(status)) => worker.exit = Some(status),
                        Ok(None) => {}
                        Err(_) => worker.exit = Some(ExitStatus::UNKNOWN),
                    }
                }
                if worker.exit.is_some() {
                    worker.look_at = None;
                    worker.launcher_grace = None;
                    reaped.push(index);
                    continue;
                }
                worker.look_at = Some(now + LOOK_AGAIN);
            }
            if worker.launcher_grace.is_some_and(|at| at <= now) {
                // Its connection is gone, or it was asked to stop, and its launcher has not
                // ended in the time given: end it (for good, if it was asked already), so
                // that the worker's slot can be refilled.
                worker.launcher_grace = None;
                if worker.killed.is_none() && !worker.terminated {
                    worker.outlived = true;
                }
                let _ = kill_worker(worker);
                continue;
            }
            if worker.killed.is_some() {
                continue;
            }
            if let Some(limit) = silence.filter(|_| heard_of(worker)) {
                if worker
                    .last_heard
                    .checked_add(limit)
                    .is_some_and(|d| d <= now)
                {
                    // What waits unread in the socket was heard too, only not read yet.
                    let unread = worker
                        .results
                        .as_ref()
                        .and_then(|r| fd::unread_bytes(r.as_raw_fd()));
                    if unread.is_some_and(|n| n > 0) {
                        worker.last_heard = now;
                    } else {
                        worker.killed = Some(KillReason::Silent(limit));
                        let _ = kill_worker(worker);
                        continue;
                    }
                }
            }
            let reason = match worker.phase {
                Phase::Starting if worker.start_deadline.is_some_and(|d| d <= now) => {
                    worker.start_error =
                        Some(format!("the worker was not ready within {start_timeout:?}"));
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
        for index in reaped {
            self.finish_if_exited(index);
        }
    }
}

impl Supervisor {
    /// How long a worker on a connection may go unheard before it is counted dead: its
    /// heartbeats missed in a row; `None` for a pool of local workers.
    pub(super) fn silence_limit(&self) -> Option<Duration> {
        self.heartbeat
            .and_then(|every| every.checked_mul(HEARTBEATS_MISSED))
    }

    /// When a worker on a connection is counted dead if nothing more is heard from it.
    fn silence_deadline(&self, worker: &WorkerProcess) -> Option<Instant> {
        let limit = self.silence_limit().filter(|_| heard_of(worker))?;
        worker.last_heard.checked_add(limit)
    }
}

/// Whether a worker is one whose heartbeats are awaited: on a connection, past its start
/// (which has a deadline of its own), not yet told to stop.
fn heard_of(worker: &WorkerProcess) -> bool {
    worker.socket && matches!(worker.phase, Phase::Idle | Phase::Busy)
}

/// While a worker is idle and nothing is queued, takes back the jobs waiting unread in
/// other workers' pipes, to the front of the queue: whatever holds those workers, the
/// idle one can run them now. Returns how many it took.
fn take_back_for_idle(slots: &mut [Slot], queue: &mut Queue) -> u64 {
    if !queue.jobs.is_empty()
        || !slots
            .iter()
            .filter_map(|s| s.worker.as_ref())
            .any(|w| w.phase == Phase::Idle)
    {
        return 0;
    }
    let mut taken = Vec::new();
    for (index, slot) in slots.iter_mut().enumerate() {
        let Some(worker) = &mut slot.worker else {
            continue;
        };
        if worker.phase != Phase::Busy || worker.running.len() < 2 || !takes_more(worker) {
            continue;
        }
        let back = take_back(worker);
        if back.is_empty() {
            continue;
        }
        worker.passed_over = true;
        taken.extend(back);
        match worker.running.front_mut() {
            // The one it had not read yet was taken back too: it holds nothing now.
            None => set_phase(worker, index, Phase::Idle, queue),
            // What it runs now may be one whose clock has not started.
            Some(front) if front.deadline.is_none() => front.start_clock(Instant::now()),
            Some(_) => {}
        }
    }
    let count = taken.len() as u64;
    for running in taken.into_iter().rev() {
        queue.jobs.push_front(running.into_job());
    }
    count
}
