//! A worker's life as the supervisor sees it: starting one in a slot, noticing that it
//! exited (its pidfd, its pipe's end of file, or the fork server's report), reaping it, and
//! deciding whether the slot gets a replacement.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use braid_poller::{Interest, Mode};

use super::worker_process::{
    absorb_handoffs, read_available, read_log, retire, send, take_back, KillReason, Phase,
    WorkerProcess, EXIT_KEY, KEYS_PER_SLOT, LOG_KEY, RESULTS_KEY,
};
use super::{
    fail_queue, Supervisor, LAUNCHER_GRACE, LOOK_AGAIN, START_RETRY_FIRST, START_RETRY_MAX,
    TERMINATE_GRACE,
};
use crate::parent::error::{BuildError, TaskError};
use crate::parent::launch::Launched;
use crate::parent::settings::Shutdown;
use crate::protocol::fork_server::Report;
use crate::protocol::ToWorker;
use braid_sys::fd;
use braid_sys::process::{self, ExitStatus};

impl Supervisor {
    /// Whether the pool is stopping: it starts no more workers.
    fn stopping(&self) -> bool {
        match self.shutdown {
            None => false,
            Some(Shutdown::Kill) => true,
            Some(_) => self.shared.queue.lock().jobs.is_empty(),
        }
    }

    /// Starts a worker in every slot that wants one and is not waiting out a back-off.
    pub(super) fn refill_slots(&mut self) {
        if self.stopping() {
            return;
        }
        let now = Instant::now();
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            if !slot.wanted || slot.worker.is_some() || slot.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            slot.wanted = false;
            slot.retry_at = None;
            let replacement = self.startup.is_none();
            match self.start_worker(index) {
                Ok(()) => {
                    if replacement {
                        self.shared
                            .counters
                            .respawns
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    self.start_failed(index, format!("could not start a worker process: {e}"))
                }
            }
        }
    }

    fn start_worker(&mut self, index: usize) -> io::Result<()> {
        let serial = self.next_serial;
        let Launched {
            pid,
            tasks,
            results,
            recall,
            log,
        } = self.launcher.launch(serial)?;
        self.next_serial += 1;
        // Known at once, the pid is this process's own child's: a first worker `Fork`'s
        // pool forked itself, or one from `Spawn` or a command. A fork server reports the
        // pids of its own children later.
        let server_child = pid.is_none() && self.launcher.reports_exits();
        let pidfd = pid.and_then(|pid| process::pidfd_open(pid).ok());
        let poller = &self.shared.poller;
        let base = index * KEYS_PER_SLOT;
        let registered = match &pidfd {
            Some(fd) => poller.add(fd.as_fd(), base + EXIT_KEY, Interest::READABLE, Mode::Level),
            None => Ok(()),
        }
        .and_then(|()| match &log {
            Some(fd) => poller.add(fd.as_fd(), base + LOG_KEY, Interest::READABLE, Mode::Level),
            None => Ok(()),
        });
        if pid.is_none() {
            self.awaiting_pid.push_back(index);
        }
        // A launcher this pool has no pidfd for is looked at now and then.
        let look_at_first = match (&pidfd, pid, self.launcher.command_name()) {
            (None, Some(_), Some(_)) => Some(Instant::now() + LOOK_AGAIN),
            _ => None,
        };
        let worker = WorkerProcess {
            pid,
            tasks,
            results,
            socket: false,
            pidfd,
            server_child,
            phase: Phase::Starting,
            inbox: Vec::new(),
            outbox: Vec::new(),
            running: VecDeque::with_capacity(2),
            // A replacement placed by Slurm that `srun` says is queued loses its deadline
            // while it waits there, and gets a new one once Slurm runs it ([`read_log`]).
            start_deadline: Instant::now().checked_add(self.start_timeout),
            queue_unbounded: self.queue_waits_unbounded(),
            queued: false,
            look_at: look_at_first,
            tasks_done: 0,
            killed: None,
            start_error: None,
            results_closed: false,
            exit: None,
            counted: false,
            serial,
            recall,
            passed_over: false,
            node: None,
            launcher_grace: None,
            gentle: self.launcher.stops_gently(),
            terminated: false,
            outlived: false,
            last_heard: Instant::now(),
            log,
            launcher_said: VecDeque::new(),
            log_partial: Vec::new(),
        };
        self.slots[index].worker = Some(worker);
        match registered {
            // A worker that connects back is sent `INIT` once it has connected.
            Ok(())
                if self.slots[index]
                    .worker
                    .as_ref()
                    .is_some_and(|w| w.results.is_none()) => {}
            Ok(()) => self.begin_talking(index),
            Err(e) => self.could_not_talk(index, e),
        }
        Ok(())
    }

    /// Watches a new worker's results and sends it `INIT`.
    fn begin_talking(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let poller = &self.shared.poller;
        let base = index * KEYS_PER_SLOT;
        let sent = match &worker.results {
            Some(results) => poller.add(
                results.as_fd(),
                base + RESULTS_KEY,
                Interest::READABLE,
                Mode::Level,
            ),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
        .and_then(|()| {
            send(
                worker,
                &ToWorker::init_frame(&self.config.worker),
                poller,
                base,
            )
        });
        if let Err(e) = sent {
            self.could_not_talk(index, e);
        }
    }

    fn could_not_talk(&mut self, index: usize, e: io::Error) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        worker.start_error = Some(format!("could not talk to the new worker: {e}"));
        worker.killed = Some(KillReason::StartFailure);
        let _ = kill_worker(worker);
    }

    /// A connection on the pool's listener proved that it knows the secret, as the worker
    /// `id`: it becomes that worker's task and result streams. A worker that no slot waits
    /// for (replaced, killed, or an id nobody was given) gets its connection closed.
    pub(super) fn attach(&mut self, id: u64, stream: std::net::TcpStream) {
        let found = self.slots.iter().position(|slot| {
            slot.worker.as_ref().is_some_and(|w| {
                w.serial == id
                    && w.results.is_none()
                    && w.phase == Phase::Starting
                    && w.killed.is_none()
            })
        });
        let Some(index) = found else {
            tracing::debug!("braid-procpool: a connection for worker {id}, which no slot awaits");
            return;
        };
        let tasks = match stream.try_clone() {
            Ok(copy) => OwnedFd::from(copy),
            Err(e) => return self.could_not_talk(index, e),
        };
        let start_timeout = self.start_timeout;
        if let Some(worker) = &mut self.slots[index].worker {
            worker.tasks = Some(tasks);
            worker.results = Some(OwnedFd::from(stream));
            worker.socket = true;
            worker.last_heard = Instant::now();
            if worker.start_deadline.is_none() {
                worker.start_deadline = Instant::now().checked_add(start_timeout);
            }
        }
        self.begin_talking(index);
    }

    /// Whether a worker about to be launched may wait for its start as long as it takes: a
    /// replacement (the pool is built) placed by Slurm, whose queue decides when it runs.
    fn queue_waits_unbounded(&self) -> bool {
        self.startup.is_none() && self.launcher.stops_gently()
    }

    /// Closes the task pipe of idle workers the pool no longer needs, so they exit.
    pub(super) fn begin_exits(&mut self) {
        let Some(how) = self.shutdown else { return };
        let mut queue = self.shared.queue.lock();
        if how != Shutdown::Kill && !queue.jobs.is_empty() {
            return;
        }
        absorb_handoffs(&mut self.slots, &mut queue);
        // Once no worker will be started again, the fork server hears that no request
        // follows, before any worker is told to exit: it then exits as soon as it has
        // reported its last worker's end, rather than waiting for the pool to notice that
        // end and close the socket. That is when the pool is being killed, or when every
        // worker is retiring or retires now: a retiring worker holds no job, so none can
        // come back to the (empty) queue and call for a replacement.
        let last_exits = how == Shutdown::Kill
            || self.slots.iter().all(|slot| {
                slot.worker.as_ref().map_or(true, |w| {
                    w.tasks.is_none() || matches!(w.phase, Phase::Idle | Phase::Starting)
                })
            });
        if last_exits && !self.launches_finished {
            self.launches_finished = true;
            // A server already gone is seen through its socket's end of file.
            let _ = self.launcher.finish_launches();
        }
        for index in 0..self.slots.len() {
            if let Some(worker) = &mut self.slots[index].worker {
                if matches!(worker.phase, Phase::Idle | Phase::Starting) && worker.tasks.is_some() {
                    retire(worker, index, &self.shared, &mut queue);
                } else if worker.phase == Phase::Starting
                    && worker.results.is_none()
                    && worker.killed.is_none()
                {
                    // Launched, not connected (an `srun` waiting in Slurm's queue, say):
                    // nothing to tell it, and no job for it; stop its launcher.
                    worker.killed = Some(KillReason::Shutdown);
                    let _ = kill_worker(worker);
                }
            }
        }
    }

    pub(super) fn on_results_closed(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        if !worker.results_closed {
            worker.results_closed = true;
            if let Some(results) = &worker.results {
                let _ = self.shared.poller.delete(results.as_fd());
            }
        }
        if worker.socket && worker.exit.is_none() && worker.launcher_grace.is_none() {
            if worker.phase == Phase::Retiring && worker.killed.is_none() {
                // It was told to go and went: how its launcher ends says nothing anyone
                // waits to hear, so it is ended now rather than waited for.
                let _ = kill_worker(worker);
                if worker.launcher_grace.is_none() {
                    worker.launcher_grace = Some(Instant::now() + LAUNCHER_GRACE);
                }
            } else {
                // A lost connection is a lost worker, whatever its launcher (an `ssh`, an
                // `srun`) is still doing. The launcher gets a moment to end on its own and
                // report how the worker ended; then it is killed (again, if it was
                // already).
                worker.launcher_grace = Some(Instant::now() + LAUNCHER_GRACE);
            }
        }
        if worker.pidfd.is_none() && !worker.server_child {
            // Without a pidfd the closed pipe is the sign of the end: the process is exiting.
            // Not so a launcher, which may outlive its worker's connection: look without
            // waiting, and leave the rest to the end of its grace.
            if let Some(pid) = worker.pid {
                match process::wait_pid(pid, !worker.socket) {
                    Ok(Some(status)) => worker.exit = Some(status),
                    Ok(None) if worker.socket => {}
                    _ => worker.exit = Some(ExitStatus::UNKNOWN),
                }
            }
        }
        self.finish_if_exited(index);
    }

    /// The launcher of the worker of slot `index` wrote to its standard error.
    pub(super) fn on_launcher_output(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        if read_log(worker, self.launcher.forwarder(), self.start_timeout) {
            if let Some(log) = worker.log.take() {
                let _ = self.shared.poller.delete(log.as_fd());
            }
        }
    }

    pub(super) fn on_exit_signal(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(pid) = worker.pid else { return };
        if worker.exit.is_none() {
            match process::wait_pid(pid, false) {
                Ok(Some(status)) => worker.exit = Some(status),
                Ok(None) => {}
                // Reaped elsewhere (a program that ignores SIGCHLD, or calls `waitpid(-1)`):
                // the process is gone, its status unknown.
                Err(_) => worker.exit = Some(ExitStatus::UNKNOWN),
            }
        }
        self.finish_if_exited(index);
    }

    pub(super) fn on_server_reports(&mut self) {
        let mut events = std::mem::take(&mut self.server_events);
        let open = match self.launcher.read_events(&mut events) {
            Ok(open) => open,
            Err(e) => {
                tracing::error!("braid-procpool: the fork server failed: {e}");
                false
            }
        };
        for event in events.drain(..) {
            match event {
                Report::Forked(pid) => {
                    // Kills go through the pidfd the server sent, where it sent one.
                    let pidfd = self.launcher.take_pidfd(pid);
                    if let Some(index) = self.awaiting_pid.pop_front() {
                        if let Some(worker) = &mut self.slots[index].worker {
                            worker.pid = Some(pid);
                            worker.pidfd = pidfd;
                            if worker.killed.is_some() {
                                let _ = kill_worker(worker);
                            }
                        }
                    }
                }
                Report::Exited(pid, status) => {
                    let found = self
                        .slots
                        .iter()
                        .position(|s| s.worker.as_ref().is_some_and(|w| w.pid == Some(pid)));
                    if let Some(index) = found {
                        if let Some(worker) = &mut self.slots[index].worker {
                            worker.exit = Some(status);
                        }
                        self.finish_if_exited(index);
                    }
                }
            }
        }
        self.server_events = events;
        if !open {
            let _ = self
                .launcher
                .control()
                .map(|c| self.shared.poller.delete(c));
            // Told that no worker will be asked for again, the server ends once it has
            // reported its last worker's end. Before that, without its server no worker can
            // be reported or replaced: stop.
            if !self.launches_finished {
                if self.shutdown.is_none() {
                    tracing::error!("braid-procpool: the fork server ended; killing the pool");
                }
                self.shared.queue.lock().closing = Some(Shutdown::Kill);
                self.absorb_shutdown();
            }
            // The server's own workers can no longer be reported. The pool's own children
            // (the first workers it forked itself) are seen to end and reaped as any.
            for slot in &mut self.slots {
                if let Some(worker) = &mut slot.worker {
                    if worker.server_child {
                        worker.exit.get_or_insert(ExitStatus::UNKNOWN);
                    }
                }
            }
            for index in 0..self.slots.len() {
                self.finish_if_exited(index);
            }
        }
    }

    /// Finishes a worker whose process has ended: reads what it left in its pipe, settles
    /// its task, and frees its slot.
    pub(super) fn finish_if_exited(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(status) = worker.exit else { return };
        if !worker.results_closed {
            let _ = read_available(worker);
            self.process_inbox(index);
        }
        {
            let mut queue = self.shared.queue.lock();
            absorb_handoffs(&mut self.slots, &mut queue);
            if let Some(worker) = &self.slots[index].worker {
                // Off the idle list before its pipe closes; the phase stays for the verdict.
                queue.idle.retain(|idle| idle.serial != worker.serial);
            }
        }
        let Some(worker) = self.slots[index].worker.take() else {
            return;
        };
        let poller = &self.shared.poller;
        if let (false, Some(results)) = (worker.results_closed, &worker.results) {
            let _ = poller.delete(results.as_fd());
        }
        if let Some(fd) = &worker.pidfd {
            let _ = poller.delete(fd.as_fd());
        }
        let mut worker = worker;
        // The launcher has exited: all it wrote is in the pipe, its last words included.
        // (Bounded: another process may hold the pipe open, and the rest is not waited for.)
        for _ in 0..64 {
            if read_log(&mut worker, self.launcher.forwarder(), self.start_timeout) {
                break;
            }
        }
        if let Some(log) = worker.log.take() {
            let _ = poller.delete(log.as_fd());
        }
        if let Some(tasks) = &worker.tasks {
            if !worker.outbox.is_empty() {
                let _ = poller.delete(tasks.as_fd());
            }
        }
        self.awaiting_pid.retain(|&i| i != index);
        let counters = &self.shared.counters;
        if worker.counted {
            counters.workers.fetch_sub(1, Ordering::Relaxed);
        }
        let pid = worker.pid.unwrap_or(0);
        let expected = worker.phase == Phase::Retiring
            || matches!(
                worker.killed,
                Some(KillReason::Shutdown | KillReason::StartFailure)
            );
        // Jobs still whole in a packet pipe never reached the worker: take them back before
        // telling which job it ran.
        let never_read = take_back(&mut worker);
        let mut running = worker.running;
        // A job whose bytes all still sit in the pipe never reached the worker: it is given to
        // another worker rather than failed. This happens when a worker dies while idle just
        // as a job is handed to it.
        let held: usize = running.iter().map(|r| r.message.len()).sum();
        // A socket's count of unread bytes is of what came in, not of what the worker has
        // not read: unknown.
        let unread = worker
            .tasks
            .as_ref()
            .filter(|_| !worker.socket)
            .and_then(|t| fd::unread_bytes(t.as_raw_fd()));
        let never_started = held > 0
            && worker.killed.is_none()
            && unread.is_some_and(|n| n + worker.outbox.len() >= held);
        let running_now = if never_started {
            None
        } else {
            running.pop_front()
        };
        running.extend(never_read);
        // Jobs still waiting in the pipe never started: they go back to the front of the queue,
        // unless the pool is being killed.
        if !running.is_empty() {
            if worker.killed == Some(KillReason::Shutdown) {
                for waiting in running {
                    waiting.sink.fail(TaskError::ShutDown);
                }
            } else {
                let mut queue = self.shared.queue.lock();
                for waiting in running.into_iter().rev() {
                    queue.jobs.push_front(waiting.into_job());
                }
            }
        }
        match (running_now, worker.killed.clone()) {
            (Some(running), Some(KillReason::Protocol(reason))) => {
                counters.worker_deaths.fetch_add(1, Ordering::Relaxed);
                running.sink.fail(TaskError::Protocol(reason));
            }
            (Some(running), Some(KillReason::Timeout)) => {
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                running.sink.fail(TaskError::TimedOut);
            }
            (Some(running), Some(KillReason::Shutdown)) => running.sink.fail(TaskError::ShutDown),
            (Some(running), _) => {
                counters.worker_deaths.fetch_add(1, Ordering::Relaxed);
                let status = self.launcher.worker_status(status);
                let reason = match worker.killed {
                    Some(KillReason::Silent(limit)) => Some(format!(
                        "it sent nothing, not even a heartbeat, for {limit:?}, so the pool \
                         ended it"
                    )),
                    _ if worker.outlived => Some(format!(
                        "its connection closed, and its launcher was still running \
                         {LAUNCHER_GRACE:?} later, so the pool ended the launcher; the exit \
                         status is the launcher's"
                    )),
                    _ if !worker.launcher_said.is_empty() => Some(format!(
                        "Slurm said: {}",
                        Vec::from(std::mem::take(&mut worker.launcher_said)).join(" / ")
                    )),
                    _ => None,
                };
                running.sink.fail(TaskError::WorkerDied {
                    pid,
                    exit_code: status.code(),
                    signal: status.signal(),
                    node: worker.node.take(),
                    reason,
                });
            }
            (None, _) if worker.phase == Phase::Starting => {
                let launcher = self.launcher.command_name();
                let said = Vec::from(std::mem::take(&mut worker.launcher_said)).join(" / ");
                let reason = worker.start_error.unwrap_or_else(|| match launcher {
                    Some(name) if worker.results.is_none() && !said.is_empty() => format!(
                        "the launcher {name} (pid {pid}) ended ({status}) before its worker \
                         connected to the pool: {said}"
                    ),
                    Some(name) if worker.results.is_none() => format!(
                        "the launcher {name} (pid {pid}) ended ({status}) before its worker \
                         connected to the pool; its error output says why"
                    ),
                    _ => format!(
                        "worker process {pid} ended ({status}) before it was ready; does the \
                         program's main() call braid_procpool::init() first?"
                    ),
                });
                if worker.killed != Some(KillReason::Shutdown) {
                    self.start_failed(index, reason);
                }
                return;
            }
            (None, _) if !expected => {
                counters.worker_deaths.fetch_add(1, Ordering::Relaxed);
            }
            (None, _) => {}
        }
        self.slots[index].wanted = true;
    }

    /// A worker of slot `index` did not come up: during `build` that fails the build;
    /// afterwards the slot tries again after a back-off that doubles with each failure in a
    /// row. While no slot has a worker that came up, queued and new jobs fail rather than
    /// wait for one that may never come.
    fn start_failed(&mut self, index: usize, reason: String) {
        self.shared
            .counters
            .start_failures
            .fetch_add(1, Ordering::Relaxed);
        if self.startup.is_some() {
            self.fail_start(BuildError::worker_start(reason));
            return;
        }
        let slot = &mut self.slots[index];
        slot.start_failures += 1;
        let delay = retry_delay(slot.start_failures);
        slot.retry_at = Some(Instant::now() + delay);
        slot.wanted = true;
        tracing::warn!(
            "braid-procpool: a worker failed to start ({} in a row): {reason}; trying again \
             in {delay:?}",
            slot.start_failures
        );
        // A slot whose worker came up has no failures counted, so this means no worker runs.
        if self.slots.iter().all(|s| s.start_failures > 0) {
            self.shared.queue.lock().broken = Some(reason.clone());
            fail_queue(&self.shared, TaskError::WorkerStart(reason));
        }
    }

    /// A worker of slot `index` answered `READY`: the slot's failures are forgiven, and a
    /// pool that refused work for want of workers takes it again.
    pub(super) fn start_succeeded(&mut self, index: usize) {
        self.slots[index].start_failures = 0;
        self.shared.queue.lock().broken = None;
    }

    /// When the first slot waiting out a back-off may start a worker.
    pub(super) fn next_retry(&self) -> Option<Instant> {
        if self.stopping() {
            return None;
        }
        self.slots
            .iter()
            .filter(|s| s.wanted && s.worker.is_none())
            .filter_map(|s| s.retry_at)
            .min()
    }

    /// Build fails: remember why, and tear everything down before telling the builder.
    pub(super) fn fail_start(&mut self, error: BuildError) {
        self.startup_error.get_or_insert(error);
        self.shared.queue.lock().closing = Some(Shutdown::Kill);
        self.absorb_shutdown();
    }

    pub(super) fn report_startup_if_ready(&mut self) {
        if self.startup_error.is_some() {
            return;
        }
        let all_ready = self
            .slots
            .iter()
            .all(|s| s.worker.as_ref().is_some_and(|w| w.phase == Phase::Idle));
        if all_ready {
            if let Some(startup) = self.startup.take() {
                let _ = startup.send(Ok(()));
            }
        }
    }
}

/// Sends `SIGKILL` to a worker: through its pidfd where it has one (opened here for a child
/// of this process, sent by the fork server for one of its own), so that a pid the system
/// already gave to another process is never signalled; by pid otherwise (a system without
/// pidfds). A worker whose pid is not known yet is left alone:
/// the fork server's report of it finds it marked as killed. A worker on a connection also
/// has the connection shut down, which ends it wherever it runs.
pub(super) fn kill_worker(worker: &mut WorkerProcess) -> io::Result<()> {
    if worker.socket {
        if let Some(results) = &worker.results {
            let _ = fd::shutdown_write(results.as_fd());
        }
    }
    if worker.gentle && worker.terminated && worker.launcher_grace.is_some() {
        // Asked to stop already: the end of its grace, not a second request, kills it.
        return Ok(());
    }
    if worker.gentle && !worker.terminated {
        // `srun` killed outright leaves its job behind when the job is still waiting in
        // Slurm's queue; asked to stop, it withdraws the job, or ends the step it runs.
        // A launcher that has not ended by the end of the grace is killed then.
        worker.terminated = true;
        worker.launcher_grace = Some(Instant::now() + TERMINATE_GRACE);
        return signal_process(worker.pid, worker.pidfd.as_ref(), libc::SIGTERM);
    }
    kill_process(worker.pid, worker.pidfd.as_ref())
}

/// Kills a worker's process at once, however its launcher would rather be stopped.
pub(super) fn kill_worker_now(worker: &mut WorkerProcess) -> io::Result<()> {
    worker.terminated = true;
    worker.launcher_grace = None;
    kill_worker(worker)
}

/// The wait before the next start after `failures` failed ones in a row.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    START_RETRY_FIRST
        .saturating_mul(1 << doublings)
        .min(START_RETRY_MAX)
}

fn kill_process(pid: Option<u32>, pidfd: Option<&OwnedFd>) -> io::Result<()> {
    signal_process(pid, pidfd, libc::SIGKILL)
}

fn signal_process(
    pid: Option<u32>,
    pidfd: Option<&OwnedFd>,
    signal: libc::c_int,
) -> io::Result<()> {
    match (pidfd, pid) {
        (Some(pidfd), _) => process::pidfd_send_signal(pidfd.as_fd(), signal),
        (None, Some(pid)) => process::kill(pid, signal),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_its_cap() {
        assert_eq!(retry_delay(1), START_RETRY_FIRST);
        assert_eq!(retry_delay(2), START_RETRY_FIRST * 2);
        assert_eq!(retry_delay(3), START_RETRY_FIRST * 4);
        assert_eq!(retry_delay(20), START_RETRY_MAX);
        assert_eq!(retry_delay(u32::MAX), START_RETRY_MAX);
    }

    /// A pidfd outlives its process's pid: once the process is reaped, a kill through it
    /// fails with `ESRCH` and never reaches the process that holds the pid now.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_kill_goes_through_the_pidfd_not_the_pid() {
        use std::process::Command;
        let mut gone = Command::new("sleep").arg("30").spawn().unwrap();
        let pidfd = process::pidfd_open(gone.id()).unwrap();
        gone.kill().unwrap();
        gone.wait().unwrap();
        // Stands for a process that was given the reaped worker's pid.
        let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
        let error = kill_process(Some(bystander.id()), Some(&pidfd)).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ESRCH), "{error}");
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "the kill reached the process that holds the pid now"
        );
        // Without a pidfd the pid is all there is.
        kill_process(Some(bystander.id()), None).unwrap();
        let status = bystander.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(kill_process(None, None).is_ok());
    }
}
