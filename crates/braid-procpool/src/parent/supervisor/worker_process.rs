//! The supervisor's view of one worker process (its pipes, its phase, the tasks it holds),
//! and the pipe work done on it.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use braid_poller::{Interest, Mode};

use crate::parent::job::{Job, Settle};
use crate::parent::launch::forward::Forwarder;
use crate::parent::shared::{Handoff, IdleWorker, Queue, Shared};
use crate::protocol;
use braid_sys::fd;
use braid_sys::process::ExitStatus;

/// Poller keys: `slot * KEYS_PER_SLOT + RESULTS_KEY` etc.
pub(super) const KEYS_PER_SLOT: usize = 4;
pub(super) const RESULTS_KEY: usize = 0;
/// Where a worker's task pipe reports room for the rest of a large message.
pub(super) const TASKS_KEY: usize = 1;
pub(super) const EXIT_KEY: usize = 2;
/// Where a launcher's standard error has something to say.
pub(super) const LOG_KEY: usize = 3;

/// Lines of a launcher's standard error kept for a worker's death report, the last ones.
const LOG_LINES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Starting,
    Idle,
    Busy,
    Retiring,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum KillReason {
    Timeout,
    Shutdown,
    StartFailure,
    /// It broke the protocol, as the message says; nothing more it sent is believed.
    Protocol(String),
    /// A worker on a connection sent nothing, not even a heartbeat, for this long.
    Silent(Duration),
}

/// A job a worker holds: the one it runs, or one waiting in its pipe.
pub(super) struct Running {
    /// The ticket stamped in its message as it was sent.
    pub(super) ticket: u64,
    pub(super) sink: Settle,
    /// Kept so that a job still waiting in the pipe of a worker that died can be queued again.
    pub(super) message: Vec<u8>,
    pub(super) timeout: Option<Duration>,
    /// Set once the job is the one running: its predecessor's result came back.
    pub(super) deadline: Option<Instant>,
}

impl Running {
    /// The job a worker took, sent with `ticket`; its clock starts once it is the one
    /// running.
    pub(super) fn new(job: Job, ticket: u64) -> Running {
        Running {
            ticket,
            sink: job.sink,
            message: job.message,
            timeout: job.timeout,
            deadline: None,
        }
    }

    /// The job again, for the queue: it keeps its claim, so a cancel cannot take it.
    pub(super) fn into_job(self) -> Job {
        Job {
            message: self.message,
            timeout: self.timeout,
            sink: self.sink,
            claimed: true,
        }
    }

    pub(super) fn start_clock(&mut self, now: Instant) {
        self.deadline = self.timeout.and_then(|t| now.checked_add(t));
    }
}

pub(super) struct WorkerProcess {
    pub(super) pid: Option<u32>,
    pub(super) tasks: Option<OwnedFd>,
    /// `None` only for a worker started by a command that has not connected yet.
    pub(super) results: Option<OwnedFd>,
    /// Its task and result streams are one connection (`tasks` a copy of `results`'s
    /// descriptor): closing `tasks` does not end the stream, a shutdown does.
    pub(super) socket: bool,
    pub(super) pidfd: Option<OwnedFd>,
    /// A child of the fork server rather than of this process: the server reports its end,
    /// and only the server can reap it.
    pub(super) server_child: bool,
    pub(super) phase: Phase,
    pub(super) inbox: Vec<u8>,
    /// The unsent tail of a task message too big for the pipe at once. Kept when the pipe
    /// turns out broken, until the worker's exit is handled: it counts as never received.
    pub(super) outbox: Vec<u8>,
    /// The jobs sent to the worker, in the order it takes and answers them: the first is the
    /// one it runs (or is about to take), the others wait in its pipe.
    pub(super) running: VecDeque<Running>,
    /// When a starting worker that is not ready yet is given up; `None`: not yet counted.
    pub(super) start_deadline: Option<Instant>,
    pub(super) tasks_done: u64,
    pub(super) killed: Option<KillReason>,
    pub(super) start_error: Option<String>,
    pub(super) results_closed: bool,
    pub(super) exit: Option<ExitStatus>,
    /// Counted in `Metrics::workers` (it answered `READY`).
    pub(super) counted: bool,
    /// Tells this worker apart from earlier ones of its slot.
    pub(super) serial: u64,
    /// The parent's read end of a packet task pipe ([`take_back`]); `None` where the system
    /// has no packet pipes, and then the worker is given one job at a time.
    pub(super) recall: Option<OwnedFd>,
    /// Jobs were taken back from this worker for an idle one since its last result: it may
    /// be in a long task, so it gets no more until it answers.
    pub(super) passed_over: bool,
    /// The host a worker on a connection said it runs on, for the report of its death.
    pub(super) node: Option<String>,
    /// A worker on a connection whose connection closed: when its launcher is killed if it
    /// has not ended by then. The launcher usually ends on its own at once, with the
    /// worker's own exit status (an `srun` reports its task's), which a kill would hide.
    pub(super) launcher_grace: Option<Instant>,
    /// Its launcher is asked to stop (`SIGTERM`) before it is killed: `srun`.
    pub(super) gentle: bool,
    /// Its launcher was asked to stop, or killed.
    pub(super) terminated: bool,
    /// Its launcher was still running at the end of the grace after the connection closed,
    /// and was ended by the pool.
    pub(super) outlived: bool,
    /// When a worker on a connection last sent anything: a heartbeat, a result.
    pub(super) last_heard: Instant,
    /// A replacement placed by Slurm: while it waits in Slurm's queue it has no start
    /// deadline ([`read_log`]).
    pub(super) queue_unbounded: bool,
    /// Its launcher said it waits in Slurm's queue, and has not said since that it left.
    pub(super) queued: bool,
    /// When to look again whether a launcher with no pidfd has ended (`waitpid` without
    /// waiting): nothing else tells.
    pub(super) look_at: Option<Instant>,
    /// The launcher's standard error, while it is open ([`read_log`]).
    pub(super) log: Option<OwnedFd>,
    /// What the launcher said about the worker (Slurm's own lines), the last few.
    pub(super) launcher_said: VecDeque<String>,
    /// The start of a line of the launcher's not yet ended.
    pub(super) log_partial: Vec<u8>,
}

#[derive(Default)]
pub(super) struct Slot {
    pub(super) worker: Option<WorkerProcess>,
    /// Failed starts in a row; 0 once a worker of this slot is ready.
    pub(super) start_failures: u32,
    /// When the next start may be tried, after a failed one.
    pub(super) retry_at: Option<Instant>,
    /// Refill this slot on the next turn.
    pub(super) wanted: bool,
}

/// Moves a worker to `phase`. An idle worker's task pipe is listed in the queue, so that a
/// submitting thread can hand it a job directly; the caller holds the queue lock and has
/// taken in every hand-over first ([`absorb_handoffs`]).
pub(super) fn set_phase(worker: &mut WorkerProcess, slot: usize, phase: Phase, queue: &mut Queue) {
    if worker.phase == Phase::Idle && phase != Phase::Idle {
        queue.idle.retain(|idle| idle.serial != worker.serial);
    }
    if worker.phase != Phase::Idle && phase == Phase::Idle {
        if let Some(tasks) = &worker.tasks {
            queue.idle.push(IdleWorker {
                slot,
                serial: worker.serial,
                tasks: tasks.as_raw_fd(),
                // A socket's write of a small message is not promised to be all or nothing,
                // as a pipe's is: a worker on a connection gets every job from this thread.
                direct: !worker.socket,
            });
        }
    }
    worker.phase = phase;
}

/// Takes note of the jobs submitting threads wrote to idle workers.
pub(super) fn absorb_handoffs(slots: &mut [Slot], queue: &mut Queue) {
    for handoff in std::mem::take(&mut queue.handed) {
        let Handoff {
            slot,
            serial,
            job,
            started,
        } = handoff;
        match slots
            .get_mut(slot)
            .and_then(|s| s.worker.as_mut())
            .filter(|w| w.serial == serial)
        {
            Some(worker) => {
                let ticket = protocol::task_ticket(&job.message).unwrap_or(0);
                let mut running = Running::new(job, ticket);
                running.start_clock(started);
                worker.running.push_back(running);
                // The submitter already took the worker off the idle list.
                worker.phase = Phase::Busy;
            }
            // Cannot happen: a worker leaves the idle list before its slot is freed. Should
            // it, the job never reached a live worker and is queued again.
            None => queue.jobs.push_front(job),
        }
    }
}

/// Closes a worker's task pipe (shuts down the sending half of its connection): it finishes
/// and exits with code 0. The caller holds the queue lock, so no submitting thread is
/// writing to the pipe.
pub(super) fn retire(worker: &mut WorkerProcess, slot: usize, shared: &Shared, queue: &mut Queue) {
    set_phase(worker, slot, Phase::Retiring, queue);
    if let Some(tasks) = worker.tasks.take() {
        if !worker.outbox.is_empty() {
            let _ = shared.poller.delete(tasks.as_fd());
            worker.outbox.clear();
        }
        if worker.socket {
            // The result stream shares the connection and stays open.
            let _ = fd::shutdown_write(tasks.as_fd());
        }
    }
}

/// Writes a message to a worker, leaving what the pipe cannot take for `on_tasks_writable`.
pub(super) fn send(
    worker: &mut WorkerProcess,
    message: &[u8],
    poller: &braid_poller::Poller,
    base: usize,
) -> io::Result<()> {
    let Some(tasks) = &worker.tasks else {
        return Err(io::ErrorKind::BrokenPipe.into());
    };
    let written = if worker.outbox.is_empty() {
        match fd::write(tasks.as_raw_fd(), message) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        }
    } else {
        0
    };
    if written < message.len() {
        if worker.outbox.is_empty() {
            poller.add(
                tasks.as_fd(),
                base + TASKS_KEY,
                Interest::WRITABLE,
                Mode::Level,
            )?;
        }
        worker.outbox.extend_from_slice(&message[written..]);
    }
    Ok(())
}

/// Whether a message is sent as one packet, so that it can be taken back whole.
pub(super) fn fits_a_packet(message: &[u8]) -> bool {
    message.len() <= fd::PACKET_MAX
}

/// Whether more jobs may be queued in the worker's pipe behind those it holds: its pipe is
/// a packet pipe holding only whole small messages, so that any of them can be taken back.
pub(super) fn takes_more(worker: &WorkerProcess) -> bool {
    worker.recall.is_some()
        && worker.killed.is_none()
        && worker.tasks.is_some()
        && worker.outbox.is_empty()
        && worker
            .running
            .iter()
            .all(|r| may_go_ahead(&r.message, r.timeout))
}

/// Whether a job may wait in a worker's pipe behind another, or have another behind it: it
/// fits a packet, so it can be taken back whole, and it has no timeout. A timeout kills the
/// worker, and a job behind the timed one, which the worker may have just begun, would die
/// with it.
pub(super) fn may_go_ahead(message: &[u8], timeout: Option<Duration>) -> bool {
    fits_a_packet(message) && timeout.is_none()
}

/// Writes a small job's message (one packet) behind others in a worker's pipe: `Ok(false)`
/// if the pipe is full, and nothing was written.
pub(super) fn send_packet(worker: &WorkerProcess, message: &[u8]) -> io::Result<bool> {
    let Some(tasks) = &worker.tasks else {
        return Err(io::ErrorKind::BrokenPipe.into());
    };
    match fd::write(tasks.as_raw_fd(), message) {
        // At most `PIPE_BUF` bytes: all or nothing.
        Ok(n) => Ok(n == message.len()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes back every job still unread in a worker's packet pipe, in pipe order, and removes
/// them from what it holds. The worker and this read take turns on whole packets, so each
/// job is either read by the worker or taken back here, never both; the tickets say which.
/// Takes nothing from a worker whose pipe may hold part of a big message.
pub(super) fn take_back(worker: &mut WorkerProcess) -> Vec<Running> {
    let mut back = Vec::new();
    let Some(recall) = &worker.recall else {
        return back;
    };
    if !worker.outbox.is_empty() || !worker.running.iter().all(|r| fits_a_packet(&r.message)) {
        return back;
    }
    let mut packet = vec![0u8; fd::PACKET_MAX];
    loop {
        let n = match fd::read(recall.as_raw_fd(), &mut packet) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => {
                tracing::error!("braid-procpool: reading back a worker's tasks failed: {e}");
                break;
            }
        };
        // Not a task: the `INIT` message of a worker that died starting.
        let Some(ticket) = protocol::task_ticket(&packet[..n]) else {
            continue;
        };
        match worker.running.iter().position(|r| r.ticket == ticket) {
            Some(at) => back.extend(worker.running.remove(at)),
            // Cannot happen: only this thread writes task messages to the pipe, and it keeps
            // each one in `running` until it is answered or taken back.
            None => tracing::error!(
                "braid-procpool: took back a task message ({n} bytes) the worker was not holding"
            ),
        }
    }
    back
}

/// Reads everything available from a worker's results pipe; `Ok(true)` at end of file.
pub(super) fn read_available(worker: &mut WorkerProcess) -> io::Result<bool> {
    let Some(results) = &worker.results else {
        return Ok(false);
    };
    let fd = results.as_raw_fd();
    let inbox = &mut worker.inbox;
    loop {
        if inbox.capacity() - inbox.len() < 16 * 1024 {
            inbox.reserve(64 * 1024);
        }
        let room = inbox.capacity() - inbox.len();
        match fd::read_to_spare(fd, inbox) {
            Ok(0) => return Ok(true),
            // The pipe is drained; another read would only say so.
            Ok(n) if n < room => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// Reads what a worker's launcher (`srun`) wrote to its standard error, and passes it on,
/// whole lines at a time, through `forward`. Along the way it keeps the lines Slurm wrote
/// itself (from `srun` and `slurmstepd`) for the worker's death report, and follows where
/// the worker's job stands in Slurm's queue: a replacement that waits there has no start
/// deadline until Slurm gives it its resources, and then `start_timeout` to be ready.
/// Slurm's notes about the queue are not passed on. Returns `true` at end of file.
pub(super) fn read_log(
    worker: &mut WorkerProcess,
    forward: Option<&Forwarder>,
    start_timeout: Duration,
) -> bool {
    let Some(log) = worker.log.as_ref().map(|log| log.as_raw_fd()) else {
        return true;
    };
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let mut eof = false;
    // At most this much per turn: a chatty worker waits for the next turn, and the pool's
    // other work does not wait for it.
    for _ in 0..16 {
        let n = match fd::read(log, &mut buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // `fd::read` retries `EINTR` itself: anything else is a broken pipe.
            Err(_) => {
                eof = true;
                break;
            }
        };
        worker.log_partial.extend_from_slice(&buf[..n]);
        while let Some(end) = worker.log_partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = worker.log_partial.drain(..=end).collect();
            if !note_slurm_line(worker, &line, start_timeout) {
                out.extend_from_slice(&line);
            }
        }
        // A line that never ends is passed on in pieces rather than kept growing.
        if worker.log_partial.len() > 64 * 1024 {
            out.append(&mut worker.log_partial);
        }
    }
    if eof {
        out.append(&mut worker.log_partial);
    }
    if let Some(forward) = forward {
        forward.send(out);
    }
    eof
}

/// Takes note of one line of `srun`'s; `true` for a note about the queue, which is not
/// passed on.
fn note_slurm_line(worker: &mut WorkerProcess, line: &[u8], start_timeout: Duration) -> bool {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.starts_with("srun: error") || text.starts_with("slurmstepd") {
        if worker.launcher_said.len() == LOG_LINES {
            worker.launcher_said.pop_front();
        }
        worker.launcher_said.push_back(text.to_owned());
        return false;
    }
    let Some(note) = text.strip_prefix("srun: ") else {
        return false;
    };
    let queued = note.ends_with("queued and waiting for resources")
        || note.contains("step creation temporarily disabled");
    let allocated =
        note.ends_with("has been allocated resources") || note.starts_with("Step created for");
    if queued {
        if worker.queue_unbounded && worker.phase == Phase::Starting {
            worker.start_deadline = None;
            if !worker.queued {
                tracing::info!(
                    "braid-procpool: a new worker waits in Slurm's queue ({note}); the pool \
                     waits for it as long as Slurm keeps it there"
                );
            }
        }
        worker.queued = true;
    } else if allocated {
        if worker.queued && worker.phase == Phase::Starting && worker.start_deadline.is_none() {
            worker.start_deadline = Instant::now().checked_add(start_timeout);
        }
        worker.queued = false;
    }
    queued || allocated
}
