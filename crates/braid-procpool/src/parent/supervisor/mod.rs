//! The supervisor thread: the one owner of every worker's pipes and process.
//!
//! It waits on a [`Poller`](braid_poller::Poller) for three things: a notify from a thread
//! that queued work or asked for shutdown, a worker's results pipe, and a worker's exit (a
//! pidfd on Linux; the results pipe's end of file elsewhere; a report from the fork server
//! for [`StartMethod::ForkServer`] and from the template, the same server, for
//! [`StartMethod::Fork`]). Per-task deadlines are the poller's timeout.
//!
//! A worker holds one task message at a time, given to it only while it is idle: a job sent to
//! a busy worker would wait behind whatever that worker runs, however long, while another
//! worker may free up first. Every other job waits in the one shared queue, as in Python's
//! pools. When a worker dies, the job it held is the one it took down.
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
//! Any phase may end in death; the slot is then refilled unless the pool is stopping. A
//! worker that dies before `READY` failed to start: its slot tries again after a back-off
//! that doubles with each failure in a row, for as long as the pool lives.
//!
//! This file holds the loop itself; [`lifecycle`] starts, reaps and replaces workers,
//! [`work`] moves jobs out, results in, and enforces deadlines, and [`worker`] is one
//! worker's state and the pipe work done on it.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use braid_poller::{Events, Interest, Mode};
use crossbeam_channel::Sender;

use crate::parent::error::{BuildError, TaskError};
use crate::parent::launch::command::{self, Handshake, PENDING_KEYS};
use crate::parent::launch::Starter;
use crate::parent::settings::{Shutdown, StartMethod};
use crate::parent::shared::Shared;
use crate::protocol::fork_server::Report;
use crate::protocol::{function, WorkerSettings};
use braid_sys::process;

mod lifecycle;
mod work;
mod worker_process;

use lifecycle::{kill_worker, kill_worker_now};
use worker_process::{
    absorb_handoffs, set_phase, take_back, KillReason, Phase, Slot, KEYS_PER_SLOT, LOG_KEY,
    RESULTS_KEY, TASKS_KEY,
};

/// How long the launcher of a worker whose connection closed may take to end on its own
/// before it is killed ([`WorkerProcess::launcher_grace`](worker_process::WorkerProcess)).
const LAUNCHER_GRACE: Duration = Duration::from_secs(5);
/// How often the pool looks whether a launcher it has no pidfd for has ended.
const LOOK_AGAIN: Duration = Duration::from_millis(100);
/// How long a launcher asked to stop (`srun` gets `SIGTERM`) may take before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(5);
/// How long the supervisor, expecting a result, keeps looking before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
/// How long a new worker may take to answer `READY` (its initializer included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a slot waits before it tries again after a failed start; the wait doubles with
/// each failure in a row, up to `START_RETRY_MAX`.
const START_RETRY_FIRST: Duration = Duration::from_millis(50);
const START_RETRY_MAX: Duration = Duration::from_secs(5);
/// The fork server's control socket.
const CONTROL_KEY: usize = usize::MAX - 1;
/// The listener that workers started by a command connect to.
const LISTEN_KEY: usize = usize::MAX - 2;
/// How long the listener goes unwatched after accepting failed for want of descriptors or
/// memory; the pause doubles with each failure in a row, up to `LISTEN_RETRY_MAX`.
const LISTEN_RETRY_FIRST: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(1);

/// What the pool's builder decided.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) method: StartMethod,
    pub(crate) exe: Option<PathBuf>,
    pub(crate) max_tasks_per_child: Option<u64>,
    /// What every worker is told in its `INIT` message.
    pub(crate) worker: WorkerSettings,
    /// Start workers with this command, listening for them, instead of by `method`.
    pub(crate) command: Option<command::Command>,
}

struct Supervisor {
    shared: Arc<Shared>,
    /// How long a new worker may take to answer `READY`.
    start_timeout: Duration,
    /// How often workers on connections send heartbeats; `None` for local workers.
    heartbeat: Option<Duration>,
    config: Config,
    launcher: Starter,
    slots: Vec<Slot>,
    /// Slots whose fork-server launch awaits its `Forked` report, oldest first.
    awaiting_pid: VecDeque<usize>,
    startup: Option<Sender<Result<(), BuildError>>>,
    startup_error: Option<BuildError>,
    shutdown: Option<Shutdown>,
    fingerprint: i64,
    server_events: Vec<Report>,
    next_serial: u64,
    /// Whether the fork server was told that no request follows.
    launches_finished: bool,
    /// When to watch the listener again, after accepting failed for want of descriptors or
    /// memory.
    listen_paused_until: Option<Instant>,
    /// The pause after the next such failure.
    listen_retry: Duration,
}

/// The supervisor thread's body. Reports the start-up outcome through `startup`, runs until
/// the pool is shut down and every worker is reaped.
pub(crate) fn run(
    shared: Arc<Shared>,
    mut config: Config,
    startup: Sender<Result<(), BuildError>>,
) {
    let start_timeout = config
        .command
        .as_ref()
        .and_then(|c| c.start_timeout)
        .unwrap_or(START_TIMEOUT);
    let heartbeat = config.command.as_ref().map(|c| c.heartbeat);
    let launcher = match Starter::new(
        config.method,
        config.exe.clone(),
        config.command.take(),
        config.workers,
    ) {
        Ok(launcher) => launcher,
        Err(e) => {
            shared.mark_finished();
            let _ = startup.send(Err(e.into()));
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
        start_timeout,
        heartbeat,
        awaiting_pid: VecDeque::new(),
        startup: Some(startup),
        startup_error: None,
        shutdown: None,
        fingerprint: function::build_fingerprint(),
        server_events: Vec::new(),
        next_serial: 1,
        launches_finished: false,
        listen_paused_until: None,
        listen_retry: LISTEN_RETRY_FIRST,
    };
    if let Some(control) = supervisor.launcher.control() {
        if let Err(e) =
            supervisor
                .shared
                .poller
                .add(control, CONTROL_KEY, Interest::READABLE, Mode::Level)
        {
            supervisor.fail_start(e.into());
        }
    }
    if let Some(listener) = supervisor.launcher.listener() {
        if let Err(e) =
            supervisor
                .shared
                .poller
                .add(listener.fd(), LISTEN_KEY, Interest::READABLE, Mode::Level)
        {
            supervisor.fail_start(e.into());
        }
    }
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| supervisor.serve()));
    if served.is_err() {
        // A bug, not a worker failure: stop every worker rather than leave a half-kept pool.
        tracing::error!("braid-procpool: the supervisor panicked; killing the pool");
        supervisor.shared.queue.lock().closing = Some(Shutdown::Kill);
        for slot in &mut supervisor.slots {
            if let Some(mut worker) = slot.worker.take() {
                let _ = kill_worker_now(&mut worker);
                if let Some(pid) = worker.pid {
                    if !worker.server_child {
                        let _ = process::wait_pid(pid, true);
                    }
                }
                // Dropping the worker settles its jobs with `ShutDown`.
            }
        }
    }
    let Supervisor {
        shared,
        mut launcher,
        startup,
        startup_error,
        ..
    } = supervisor;
    if let Some(control) = launcher.control() {
        let _ = shared.poller.delete(control);
    }
    if let Some(listener) = launcher.listener() {
        listener.unregister(&shared.poller);
    }
    launcher.close();
    fail_queue(&shared, TaskError::ShutDown);
    shared.mark_finished();
    if let Some(startup) = startup {
        let error = startup_error
            .unwrap_or_else(|| io::Error::other("the process pool stopped during start-up").into());
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
                .into_iter()
                .chain(self.next_retry())
                .chain(self.launcher.listener().and_then(|l| l.next_deadline()))
                .chain(self.listen_paused_until)
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.wait(&mut events, timeout) {
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
                if key == LISTEN_KEY {
                    self.on_connections();
                    continue;
                }
                if key >= PENDING_KEYS {
                    self.on_handshake(key);
                    continue;
                }
                let slot = key / KEYS_PER_SLOT;
                match key % KEYS_PER_SLOT {
                    RESULTS_KEY => self.on_results(slot),
                    LOG_KEY => self.on_launcher_output(slot),
                    TASKS_KEY => self.on_tasks_writable(slot),
                    _ => self.on_exit_signal(slot),
                }
            }
            self.enforce_deadlines();
            self.expire_handshakes();
            self.resume_listening();
        }
    }

    /// Accepts and challenges the connections waiting on the listener. When accepting fails
    /// for want of descriptors or memory, stops watching the listener until
    /// [`resume_listening`](Supervisor::resume_listening) does again, after a pause: the
    /// connection stays queued and the listener readable, so the poller, level-triggered,
    /// would wake this thread again at once, and it would spin at full speed for as long as
    /// the shortage lasts, with the very connection that could not be accepted waking it.
    fn on_connections(&mut self) {
        let Some(listener) = self.launcher.listener() else {
            return;
        };
        let accepted = listener.accept(&self.shared.poller);
        if let Some(e) = &accepted.starved {
            let _ = self.shared.poller.delete(listener.fd());
            let pause = self.listen_retry;
            self.listen_paused_until = Some(Instant::now() + pause);
            self.listen_retry = (pause * 2).min(LISTEN_RETRY_MAX);
            tracing::warn!(
                "braid-procpool: accepting a worker's connection failed: {e}; \
                 trying again in {pause:?}"
            );
        } else if accepted.challenged > 0 {
            self.listen_retry = LISTEN_RETRY_FIRST;
        }
        self.count_refused(accepted.refused);
    }

    /// Watches the listener again once the pause after a failed accept is over.
    fn resume_listening(&mut self) {
        let Some(until) = self.listen_paused_until else {
            return;
        };
        let now = Instant::now();
        if now < until {
            return;
        }
        let Some(listener) = self.launcher.listener() else {
            return;
        };
        self.listen_paused_until =
            match self
                .shared
                .poller
                .add(listener.fd(), LISTEN_KEY, Interest::READABLE, Mode::Level)
            {
                Ok(()) => None,
                // Out of memory for the poller's own entry too: wait as long again.
                Err(_) => Some(now + self.listen_retry),
            };
    }

    /// Moves a connection's handshake on; one that succeeds becomes its worker's.
    fn on_handshake(&mut self, key: usize) {
        let Some(listener) = self.launcher.listener() else {
            return;
        };
        match listener.on_readable(key, &self.shared.poller) {
            Handshake::Waiting => {}
            Handshake::Refused => self.count_refused(1),
            Handshake::Admitted(id, stream) => self.attach(id, stream),
        }
    }

    fn expire_handshakes(&mut self) {
        let Some(listener) = self.launcher.listener() else {
            return;
        };
        let expired = listener.expire(Instant::now(), &self.shared.poller);
        self.count_refused(expired);
    }

    fn count_refused(&self, n: u64) {
        if n > 0 {
            tracing::warn!("braid-procpool: refused {n} connection(s) that failed the handshake");
            self.shared
                .counters
                .auth_failures
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Waits for events. While a worker is busy, or just after events (the next task of a
    /// burst, handed straight to an idle worker, answers soon), a result is usually on the
    /// way, so for up to [`SPIN`] this thread gives the processor away and looks again, and
    /// sleeps in the poller only after that: a sleep and a wake cost more than a short task.
    fn wait(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let busy = self
            .slots
            .iter()
            .filter_map(|s| s.worker.as_ref())
            .any(|w| w.phase == Phase::Busy);
        let expecting = busy || !events.is_empty() || events.is_notified();
        if expecting && timeout.map_or(true, |t| t >= SPIN) {
            let spin_until = Instant::now() + SPIN;
            while Instant::now() < spin_until {
                std::thread::yield_now();
                self.shared.poller.wait(events, Some(Duration::ZERO))?;
                // A notify counts: the look just took it, and a sleep now would not see it.
                if !events.is_empty() || events.is_notified() {
                    return Ok(());
                }
            }
        }
        self.shared.poller.wait(events, timeout).map(drop)
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
            // Jobs sent ahead that no worker has read yet have not started either.
            let mut queue = self.shared.queue.lock();
            absorb_handoffs(&mut self.slots, &mut queue);
            for (index, slot) in self.slots.iter_mut().enumerate() {
                let Some(worker) = &mut slot.worker else {
                    continue;
                };
                for unread in take_back(worker) {
                    unread.sink.fail(TaskError::Cancelled);
                }
                if worker.phase == Phase::Busy && worker.running.is_empty() {
                    set_phase(worker, index, Phase::Idle, &mut queue);
                }
            }
        }
        if how == Shutdown::Kill {
            for slot in &mut self.slots {
                if let Some(worker) = &mut slot.worker {
                    worker.killed.get_or_insert(KillReason::Shutdown);
                    let _ = kill_worker(worker);
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
}
