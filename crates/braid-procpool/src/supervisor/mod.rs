//! The supervisor thread: the one owner of every worker's pipes and process.
//!
//! It waits on a [`Poller`](braid_poller::Poller) for three things: a notify from a thread
//! that queued work or asked for shutdown, a worker's results pipe, and a worker's exit (a
//! pidfd on Linux; the results pipe's end of file elsewhere; a report from the fork server
//! for [`StartMethod::ForkServer`]). Per-task deadlines are the poller's timeout.
//!
//! A worker holds at most two task messages: the one it runs, and, while more tasks wait than
//! workers are idle, the next one in its pipe. It answers them in order, so when it dies the
//! supervisor knows which task it took down (the oldest unanswered one) and queues the other
//! again, untouched.
//!
//! A small task submitted while a worker is idle skips this thread: the submitting thread
//! writes it to the idle worker's pipe under the queue lock and leaves a note (a
//! [`Handoff`](crate::pool::Handoff)) that the supervisor takes in before it reads that
//! worker's next result. The idle list in the queue is the truth about idleness: the
//! supervisor takes a worker off it, under the lock, before it gives it work or closes its
//! pipe.
//!
//! A worker's life: `Starting` (launched, `INIT` sent) → `Idle` (it answered `READY`) ⇄
//! `Busy` (holding task messages) → `Retiring` (task pipe closed: it exits on its own) → gone.
//! Any phase may end in death; the slot is then refilled unless the pool is stopping.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use braid_poller::{Events, Interest, Mode};
use crossbeam_channel::Sender;

use crate::error::TaskError;
use crate::function;
use crate::job::Job;
use crate::launch::{Launched, Launcher, ServerEvent};
use crate::pool::{Shared, Shutdown, StartMethod};
use crate::protocol::{self, Cursor, Outcomes};
use crate::sys::{self, ExitStatus};

mod worker;

use worker::{
    absorb_handoffs, describe, read_available, retire, send, set_phase, KillReason, Phase, Running,
    Slot, Worker,
};

/// How long a new worker may take to answer `READY` (its initializer included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// A replacement worker that fails to start this many times in a row is given up.
const MAX_START_FAILURES: u32 = 3;
/// The fork server's control socket.
const CONTROL_KEY: usize = usize::MAX - 1;
/// Poller keys: `slot * KEYS_PER_SLOT + RESULTS_KEY` etc.
const KEYS_PER_SLOT: usize = 4;
const RESULTS_KEY: usize = 0;
/// Where a worker's task pipe reports room for the rest of a large message.
const TASKS_KEY: usize = 1;
const EXIT_KEY: usize = 2;

/// What the pool's builder decided.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) method: StartMethod,
    pub(crate) exe: Option<PathBuf>,
    pub(crate) max_tasks_per_child: Option<u64>,
    /// The initializer's code offset, 0 for none.
    pub(crate) initializer: i64,
}

struct Supervisor {
    shared: Arc<Shared>,
    config: Config,
    launcher: Launcher,
    slots: Vec<Slot>,
    /// Slots whose fork-server launch awaits its `Forked` report, oldest first.
    awaiting_pid: VecDeque<usize>,
    startup: Option<Sender<io::Result<()>>>,
    startup_error: Option<io::Error>,
    shutdown: Option<Shutdown>,
    fingerprint: i64,
    server_events: Vec<ServerEvent>,
    next_serial: u64,
}

/// The supervisor thread's body. Reports the start-up outcome through `startup`, runs until
/// the pool is shut down and every worker is reaped.
pub(crate) fn run(shared: Arc<Shared>, config: Config, startup: Sender<io::Result<()>>) {
    let launcher = match Launcher::new(config.method, config.exe.clone()) {
        Ok(launcher) => launcher,
        Err(e) => {
            shared.mark_finished();
            let _ = startup.send(Err(e));
            return;
        }
    };
    let mut supervisor = Supervisor {
        slots: (0..config.workers)
            .map(|_| Slot {
                wanted: true,
                ..Slot::default()
            })
            .collect(),
        shared,
        config,
        launcher,
        awaiting_pid: VecDeque::new(),
        startup: Some(startup),
        startup_error: None,
        shutdown: None,
        fingerprint: function::build_fingerprint(),
        server_events: Vec::new(),
        next_serial: 1,
    };
    if let Some(control) = supervisor.launcher.control() {
        if let Err(e) =
            supervisor
                .shared
                .poller
                .add(control, CONTROL_KEY, Interest::READABLE, Mode::Level)
        {
            supervisor.fail_start(e);
        }
    }
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| supervisor.serve()));
    if served.is_err() {
        // A bug, not a worker failure: stop every worker rather than leave a half-kept pool.
        tracing::error!("braid-procpool: the supervisor panicked; killing the pool");
        supervisor.shared.queue.lock().closing = Some(Shutdown::Kill);
        let own_children = !supervisor.launcher.reports_exits();
        for slot in &mut supervisor.slots {
            if let Some(worker) = slot.worker.take() {
                if let Some(pid) = worker.pid {
                    sys::kill(pid);
                    if own_children {
                        let _ = sys::wait_pid(pid, true);
                    }
                }
                // Dropping the worker settles its jobs with `ShutDown`.
            }
        }
    }
    let Supervisor {
        shared,
        launcher,
        startup,
        startup_error,
        ..
    } = supervisor;
    if let Some(control) = launcher.control() {
        let _ = shared.poller.delete(control);
    }
    launcher.close();
    fail_queue(&shared, TaskError::ShutDown);
    shared.mark_finished();
    if let Some(startup) = startup {
        let error = startup_error
            .unwrap_or_else(|| io::Error::other("the process pool stopped during start-up"));
        let _ = startup.send(Err(error));
    }
}

/// Fails every queued job with `error`.
fn fail_queue(shared: &Shared, error: TaskError) {
    let jobs = std::mem::take(&mut shared.queue.lock().jobs);
    for job in jobs {
        job.sink.fail(error.clone());
    }
}

impl Supervisor {
    fn serve(&mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            self.absorb_shutdown();
            self.refill_slots();
            self.dispatch();
            self.begin_exits();
            if self.finished() {
                return;
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.shared.poller.wait(&mut events, timeout) {
                tracing::error!(
                    "braid-procpool: the supervisor's poller failed: {e}; killing the pool"
                );
                self.shared.queue.lock().closing = Some(Shutdown::Kill);
                events.clear();
            }
            absorb_handoffs(&mut self.slots, &mut self.shared.queue.lock());
            for event in events.iter() {
                let key = event.key();
                if key == braid_poller::NOTIFY_KEY {
                    continue;
                }
                if key == CONTROL_KEY {
                    self.on_server_reports();
                    continue;
                }
                let slot = key / KEYS_PER_SLOT;
                match key % KEYS_PER_SLOT {
                    RESULTS_KEY => self.on_results(slot),
                    TASKS_KEY => self.on_tasks_writable(slot),
                    _ => self.on_exit_signal(slot),
                }
            }
            self.enforce_deadlines();
        }
    }

    /// Takes over a shutdown a pool handle asked for.
    fn absorb_shutdown(&mut self) {
        let requested = self.shared.queue.lock().closing;
        let Some(how) = requested else { return };
        if self.shutdown.is_some_and(|current| current >= how) {
            return;
        }
        self.shutdown = Some(how);
        if how >= Shutdown::CancelPending {
            fail_queue(&self.shared, TaskError::Cancelled);
        }
        if how == Shutdown::Kill {
            for slot in &mut self.slots {
                if let Some(worker) = &mut slot.worker {
                    worker.killed.get_or_insert(KillReason::Shutdown);
                    if let Some(pid) = worker.pid {
                        sys::kill(pid);
                    }
                }
                slot.wanted = false;
            }
        }
    }

    fn finished(&self) -> bool {
        self.shutdown.is_some()
            && self.slots.iter().all(|s| s.worker.is_none())
            && (self.shutdown == Some(Shutdown::Kill) || self.shared.queue.lock().jobs.is_empty())
    }

    /// Starts a worker in every slot that wants one.
    fn refill_slots(&mut self) {
        let stopping = match self.shutdown {
            None => false,
            Some(Shutdown::Kill) => true,
            Some(_) => self.shared.queue.lock().jobs.is_empty(),
        };
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if !slot.wanted || slot.worker.is_some() || slot.given_up || stopping {
                continue;
            }
            self.slots[index].wanted = false;
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
        let Launched {
            pid,
            tasks,
            results,
        } = self.launcher.launch()?;
        let pidfd = match (pid, self.launcher.reports_exits()) {
            (Some(pid), false) => sys::pidfd_open(pid),
            _ => None,
        };
        let poller = &self.shared.poller;
        let base = index * KEYS_PER_SLOT;
        let registered = poller
            .add(
                results.as_fd(),
                base + RESULTS_KEY,
                Interest::READABLE,
                Mode::Level,
            )
            .and_then(|()| match &pidfd {
                Some(fd) => {
                    poller.add(fd.as_fd(), base + EXIT_KEY, Interest::READABLE, Mode::Level)
                }
                None => Ok(()),
            });
        if pid.is_none() {
            self.awaiting_pid.push_back(index);
        }
        let mut worker = Worker {
            pid,
            tasks: Some(tasks),
            results,
            pidfd,
            phase: Phase::Starting,
            inbox: Vec::new(),
            outbox: Vec::new(),
            running: VecDeque::with_capacity(2),
            start_deadline: Instant::now() + START_TIMEOUT,
            tasks_done: 0,
            killed: None,
            start_error: None,
            results_closed: false,
            exit: None,
            counted: false,
            serial: self.next_serial,
        };
        self.next_serial += 1;
        let mut init = Vec::with_capacity(8);
        init.extend_from_slice(&self.config.initializer.to_le_bytes());
        let sent = registered.and_then(|()| {
            send(
                &mut worker,
                &protocol::frame(protocol::INIT, &init),
                poller,
                base,
            )
        });
        if let Err(e) = sent {
            worker.start_error = Some(format!("could not talk to the new worker: {e}"));
            worker.killed = Some(KillReason::StartFailure);
            if let Some(pid) = worker.pid {
                sys::kill(pid);
            }
        }
        self.slots[index].worker = Some(worker);
        Ok(())
    }

    /// Hands queued jobs to idle workers, then, while jobs remain, a second one to each busy
    /// worker (it waits in the worker's pipe and counts as started).
    fn dispatch(&mut self) {
        if self.shutdown == Some(Shutdown::Kill) {
            return;
        }
        let max_tasks = self.config.max_tasks_per_child;
        let shared = self.shared.clone();
        let mut queue = shared.queue.lock();
        absorb_handoffs(&mut self.slots, &mut queue);
        for pass in 0..2 {
            for index in 0..self.slots.len() {
                let Some(worker) = &mut self.slots[index].worker else {
                    continue;
                };
                let wanted = match pass {
                    0 => worker.phase == Phase::Idle,
                    _ => {
                        worker.phase == Phase::Busy
                            && worker.running.len() == 1
                            && worker.killed.is_none()
                            && worker.outbox.is_empty()
                            && max_tasks.map_or(true, |max| worker.tasks_done + 2 <= max)
                    }
                };
                if !wanted {
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
                    if worker.running.is_empty() {
                        // The worker died while idle: the job never reached it. It goes back
                        // to the queue, and the worker gets nothing more; its death, about to
                        // be seen, frees the slot.
                        set_phase(worker, index, Phase::Busy, &mut queue);
                        queue.jobs.push_front(Job {
                            claimed: true,
                            ..job
                        });
                        if let Some(pid) = worker.pid {
                            // Should it still live, a worker that cannot take work must go.
                            sys::kill(pid);
                        }
                        continue;
                    }
                    // A job waiting behind a running one: the death settles the running one
                    // and queues this one again.
                }
                let mut running = Running {
                    sink: job.sink,
                    message: job.message,
                    timeout: job.timeout,
                    deadline: None,
                };
                if worker.running.is_empty() {
                    running.start_clock(Instant::now());
                }
                worker.running.push_back(running);
                set_phase(worker, index, Phase::Busy, &mut queue);
            }
        }
    }

    /// Closes the task pipe of idle workers the pool no longer needs, so they exit.
    fn begin_exits(&mut self) {
        let Some(how) = self.shutdown else { return };
        let shared = self.shared.clone();
        let mut queue = shared.queue.lock();
        if how != Shutdown::Kill && !queue.jobs.is_empty() {
            return;
        }
        absorb_handoffs(&mut self.slots, &mut queue);
        for index in 0..self.slots.len() {
            if let Some(worker) = &mut self.slots[index].worker {
                if matches!(worker.phase, Phase::Idle | Phase::Starting) && worker.tasks.is_some() {
                    retire(worker, index, &shared, &mut queue);
                }
            }
        }
    }

    fn on_results(&mut self, index: usize) {
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

    fn on_results_closed(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        if !worker.results_closed {
            worker.results_closed = true;
            let _ = self.shared.poller.delete(worker.results.as_fd());
        }
        if worker.pidfd.is_none() && !self.launcher.reports_exits() {
            // Without a pidfd the closed pipe is the sign of the end: the process is exiting.
            if let Some(pid) = worker.pid {
                match sys::wait_pid(pid, true) {
                    Ok(Some(status)) => worker.exit = Some(status),
                    _ => {
                        worker.exit = Some(ExitStatus {
                            code: None,
                            signal: None,
                        })
                    }
                }
            }
        }
        self.finish_if_exited(index);
    }

    fn on_exit_signal(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(pid) = worker.pid else { return };
        if worker.exit.is_none() {
            match sys::wait_pid(pid, false) {
                Ok(Some(status)) => worker.exit = Some(status),
                Ok(None) => {}
                // Reaped elsewhere (a program that ignores SIGCHLD, or calls `waitpid(-1)`):
                // the process is gone, its status unknown.
                Err(_) => {
                    worker.exit = Some(ExitStatus {
                        code: None,
                        signal: None,
                    })
                }
            }
        }
        self.finish_if_exited(index);
    }

    fn on_server_reports(&mut self) {
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
                ServerEvent::Forked(pid) => {
                    if let Some(index) = self.awaiting_pid.pop_front() {
                        if let Some(worker) = &mut self.slots[index].worker {
                            worker.pid = Some(pid);
                            if worker.killed.is_some() {
                                sys::kill(pid);
                            }
                        }
                    }
                }
                ServerEvent::Exited(pid, status) => {
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
            // Without its server no worker can be reported or replaced: stop.
            if self.shutdown.is_none() {
                tracing::error!("braid-procpool: the fork server ended; killing the pool");
            }
            self.shared.queue.lock().closing = Some(Shutdown::Kill);
            self.absorb_shutdown();
            for slot in &mut self.slots {
                if let Some(worker) = &mut slot.worker {
                    worker.exit.get_or_insert(ExitStatus {
                        code: None,
                        signal: None,
                    });
                }
            }
            for index in 0..self.slots.len() {
                self.finish_if_exited(index);
            }
        }
    }

    /// Parses every complete message a worker sent.
    fn process_inbox(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let inbox = std::mem::take(&mut worker.inbox);
        let mut used = 0;
        loop {
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
        let mut cursor = Cursor::new(body);
        match cursor.u8() {
            Some(protocol::READY) if worker.phase == Phase::Starting => {
                let pid = cursor.u32();
                if cursor.i64() != Some(self.fingerprint) {
                    self.protocol_error(
                        index,
                        "the worker runs a different build of this program".into(),
                    );
                    return;
                }
                worker.pid = worker.pid.or(pid);
                set_phase(worker, index, Phase::Idle, &mut self.shared.queue.lock());
                worker.counted = true;
                self.slots[index].start_failures = 0;
                self.shared.counters.workers.fetch_add(1, Ordering::Relaxed);
                self.report_startup_if_ready();
            }
            // Told to stop while it was starting: it exits after this on its own.
            Some(protocol::READY) if worker.phase == Phase::Retiring => {}
            Some(protocol::INIT_FAILED) => {
                worker.start_error = Some(format!(
                    "the initializer panicked: {}",
                    String::from_utf8_lossy(cursor.rest())
                ));
            }
            Some(protocol::RESULTS) => {
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
                let Some(outcomes) = Outcomes::parse(cursor.rest()) else {
                    self.protocol_error(index, "the worker sent a truncated result".into());
                    return;
                };
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
        }
        if let Some(pid) = worker.pid {
            sys::kill(pid);
        }
    }

    fn on_tasks_writable(&mut self, index: usize) {
        let poller = &self.shared.poller;
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(tasks) = &worker.tasks else { return };
        if worker.outbox.is_empty() {
            return;
        }
        match sys::write(tasks.as_raw_fd(), &worker.outbox) {
            Ok(n) => {
                worker.outbox.drain(..n);
                if worker.outbox.is_empty() {
                    let _ = poller.delete(tasks.as_fd());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                // The worker is gone; its exit will be seen on the other descriptors.
                let _ = poller.delete(tasks.as_fd());
                worker.outbox.clear();
            }
        }
    }

    /// Finishes a worker whose process has ended: reads what it left in its pipe, settles
    /// its task, and frees its slot.
    fn finish_if_exited(&mut self, index: usize) {
        let Some(worker) = &mut self.slots[index].worker else {
            return;
        };
        let Some(status) = worker.exit else { return };
        if !worker.results_closed {
            let _ = read_available(worker);
            self.process_inbox(index);
        }
        {
            let shared = self.shared.clone();
            let mut queue = shared.queue.lock();
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
        if !worker.results_closed {
            let _ = poller.delete(worker.results.as_fd());
        }
        if let Some(fd) = &worker.pidfd {
            let _ = poller.delete(fd.as_fd());
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
        let mut running = worker.running;
        // A job whose bytes all still sit in the pipe never reached the worker: it is given to
        // another worker rather than failed. This happens when a worker dies while idle just
        // as a job is handed to it.
        let held: usize = running.iter().map(|r| r.message.len()).sum();
        let unread = worker
            .tasks
            .as_ref()
            .and_then(|t| sys::unread_bytes(t.as_raw_fd()));
        let never_started = held > 0
            && worker.killed.is_none()
            && unread.is_some_and(|n| n + worker.outbox.len() >= held);
        let running_now = if never_started {
            None
        } else {
            running.pop_front()
        };
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
                    queue.jobs.push_front(Job {
                        message: waiting.message,
                        timeout: waiting.timeout,
                        sink: waiting.sink,
                        claimed: true,
                    });
                }
            }
        }
        match (running_now, worker.killed) {
            (Some(running), Some(KillReason::Timeout)) => {
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                running.sink.fail(TaskError::TimedOut);
            }
            (Some(running), Some(KillReason::Shutdown)) => running.sink.fail(TaskError::ShutDown),
            (Some(running), _) => {
                counters.worker_deaths.fetch_add(1, Ordering::Relaxed);
                running.sink.fail(TaskError::WorkerDied {
                    pid,
                    exit_code: status.code,
                    signal: status.signal,
                });
            }
            (None, _) if worker.phase == Phase::Starting => {
                let reason = worker.start_error.unwrap_or_else(|| {
                    format!(
                        "worker process {pid} ended ({}) before it was ready; does the program's \
                         main() call braid_procpool::init() first?",
                        describe(status)
                    )
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

    /// A worker of slot `index` did not come up.
    fn start_failed(&mut self, index: usize, reason: String) {
        if self.startup.is_some() {
            self.fail_start(io::Error::other(format!(
                "a worker failed to start: {reason}"
            )));
            return;
        }
        tracing::warn!("braid-procpool: {reason}");
        let slot = &mut self.slots[index];
        slot.start_failures += 1;
        if slot.start_failures >= MAX_START_FAILURES {
            slot.given_up = true;
        } else {
            slot.wanted = true;
        }
        if self.slots.iter().all(|s| s.given_up) {
            self.shared.queue.lock().broken = Some(reason.clone());
            fail_queue(&self.shared, TaskError::WorkerStart(reason));
        }
    }

    /// Build fails: remember why, and tear everything down before telling the builder.
    fn fail_start(&mut self, error: io::Error) {
        self.startup_error.get_or_insert(error);
        self.shared.queue.lock().closing = Some(Shutdown::Kill);
        self.absorb_shutdown();
    }

    fn report_startup_if_ready(&mut self) {
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

    fn next_deadline(&self) -> Option<Instant> {
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

    fn enforce_deadlines(&mut self) {
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
            if let Some(pid) = worker.pid {
                sys::kill(pid);
            }
        }
    }
}
