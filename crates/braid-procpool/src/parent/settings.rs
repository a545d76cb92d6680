//! The settings a pool is started and stopped with: [`StartMethod`], [`PanicOutput`] and
//! [`Shutdown`]. They import nothing of the pool, so every part of it may use them.

#[cfg(doc)]
use crate::{JoinHandle, ProcessPool, TaskError};

/// How the pool makes worker processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartMethod {
    /// Run the program's own executable again (`/proc/self/exe` on Linux,
    /// [`std::env::current_exe`] elsewhere); [`init`](crate::init) turns that process into a
    /// worker. Safe with any number of threads in the parent. Started with `posix_spawn`,
    /// which copies none of the parent's page tables, so a large parent starts workers as
    /// fast as a small one. The default.
    #[default]
    Spawn,
    /// `fork` the parent at [`build`](crate::Builder::build) only: into a single-threaded
    /// template process, which forks every replacement, and, at the same moment, into half
    /// of the first workers (the template forks the other half while the parent forks
    /// these). The fastest start for a small program; each fork copies the page tables
    /// of every resident page, so the start grows with the parent's memory (about 6 ms
    /// more per 100 MB resident, measured on a 2-core machine). Two things set it apart from Python's `fork` start
    /// method, which forks the parent anew for each worker:
    ///
    /// - **A worker sees the parent's memory as it was at `build`**, not as it is when
    ///   the worker starts: a replacement started an hour later still finds the values
    ///   the parent's statics and heap held at `build`. Send what changes as task
    ///   arguments. The template keeps that snapshot alive for the pool's life, so memory
    ///   the parent changes or frees afterwards is held twice (copy-on-write) until the
    ///   pool ends.
    /// - **Replacements never fork the live parent**, so a thread that holds a lock while
    ///   a worker is replaced cannot leave it held in the new worker.
    ///
    /// The forks of the parent, at `build`, still copy a process whose other threads
    /// vanished mid-step. braid takes care of the locks a worker takes by itself: it holds
    /// std's stdout and stderr locks across each of those forks (so `build` waits for a
    /// thread that is printing, and a thread that holds `std::io::stdout().lock()` or
    /// `stderr().lock()` must let go of it before it builds a Fork pool), it resets braid's
    /// signal listeners, and the system's allocator prepares itself for `fork` (glibc's,
    /// macOS's and FreeBSD's do). What stays unsafe is any other lock that another thread
    /// holds at that moment and a task then touches: a `Mutex` of the program's own, a
    /// library's (a logger's, a `tracing` subscriber's, an allocator other than the
    /// system's), std's environment lock while a thread changes a variable. It stays locked
    /// forever in every worker, and a task that touches it hangs until its timeout. Build a
    /// Fork pool before starting other threads, or while they touch nothing the tasks need;
    /// otherwise use [`ForkServer`](StartMethod::ForkServer) or
    /// [`Spawn`](StartMethod::Spawn).
    Fork,
    /// Run the program's executable once as a single-threaded fork server, which forks every
    /// worker. Respawns cost a `fork` of a small clean process, without the dangers of
    /// [`Fork`](StartMethod::Fork): the server is a fresh run of the program, up to its call
    /// of [`init`](crate::init), and shares no memory or lock with the parent.
    ForkServer,
}

/// What a worker prints when a task panics in it.
///
/// The panic's message comes back to the parent in [`TaskError::Panicked`] either way; this
/// is only about the worker's standard error, which it shares with the parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicOutput {
    /// Print what Rust prints for a panic (and the backtrace, if `RUST_BACKTRACE` asks for
    /// one), each line starting with `[braid-procpool worker PID] `, so that it cannot be
    /// taken for a panic of the parent. The default.
    #[default]
    Prefixed,
    /// Print nothing.
    Silent,
}

/// How [`ProcessPool::shutdown`] treats work that has not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shutdown {
    /// Run every task already submitted, then stop the workers. Dropping a pool does this.
    Wait,
    /// Cancel queued tasks (they yield [`TaskError::Cancelled`]), and those sent ahead to a
    /// worker that it has not read yet; let the ones workers are running finish (see
    /// [`JoinHandle::cancel`]), then stop the workers.
    CancelPending,
    /// Cancel queued tasks and kill the workers at once; running tasks yield
    /// [`TaskError::ShutDown`].
    Kill,
}

/// Starts each worker through a command of your choosing, instead of as a child process of
/// the pool: through `ssh`, `kubectl exec`, a batch system, or just a shell. The started
/// program connects back to the pool over TCP and serves tasks over that connection; every
/// method of the pool works as with local workers.
///
/// For each worker the pool runs `program` with `args`, no standard input, and these
/// environment variables, which the command must pass on to the worker program it starts:
///
/// - `BRAID_PROCPOOL_EXE`: the path of this program's executable, the one to run (a worker
///   must run the very same build as the pool; a different one is refused);
/// - `BRAID_PROCPOOL_CONNECT`: where to connect, and which worker it is;
/// - `BRAID_PROCPOOL_SECRET`: the pool's secret, random bytes made when the pool is built.
///
/// The worker program's [`init`](crate::init) reads the last two, connects, and proves that
/// it knows the secret by answering a fresh random challenge with an HMAC-SHA256 of it; it
/// then makes the pool prove the same, so that it never serves a stranger. The secret
/// itself never crosses the network. A connection that fails the handshake, sends
/// something else, or is too slow about it is closed and counted in
/// [`Metrics::auth_failures`](crate::Metrics::auth_failures); it never sees or sends a
/// task. The secret travels in the environment, never on a command line, where every user
/// of the machine could read it: a command that reaches another machine must forward the
/// variables there (`ssh`'s `SendEnv`, say) rather than write them out as arguments.
///
/// The pool listens on `127.0.0.1` by default, on a port the system picks; choose another
/// address with [`listen`](Launcher::listen). It never listens on every interface unless
/// asked to.
///
/// The pool tracks the process it ran, the launcher: killing a worker (a timeout, a
/// [`Shutdown::Kill`]) kills that process and closes the connection, and a worker ends as
/// soon as its connection closes, even in the middle of a task (on Linux; elsewhere when it
/// next reads or writes). A worker that dies, or whose connection breaks, fails only its own
/// task with [`TaskError::WorkerDied`], and the pool starts another. Run the worker with
/// `exec` where the command allows, so that the launcher is the worker itself and its exit
/// status is the worker's.
///
/// # Examples
///
/// ```
/// use braid_procpool::{Launcher, ProcessPool};
///
/// # braid_procpool::init();
/// let pool = ProcessPool::builder()
///     .workers(2)
///     .launcher(Launcher::command("sh", ["-c", "exec \"$BRAID_PROCPOOL_EXE\""]))
///     .build()?;
/// assert_eq!(pool.submit(|x: u32| x * 2, 21).join(), Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    pub(crate) program: std::ffi::OsString,
    pub(crate) args: Vec<std::ffi::OsString>,
    /// `None`: the launcher's default, `127.0.0.1:0` for a command, the address this host
    /// has on Slurm's network for Slurm.
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Workers placed by Slurm, with these settings; the command is `srun`'s.
    pub(crate) slurm: Option<Slurm>,
    /// How long a worker may take from its launch to `READY`; `None`: a minute.
    pub(crate) start_timeout: Option<std::time::Duration>,
    /// How often each worker says it is alive.
    pub(crate) heartbeat: std::time::Duration,
}

/// How often a worker on a connection says it is alive, unless the launcher says otherwise.
pub(crate) const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// Heartbeats a worker may miss in a row before the pool counts it dead.
pub(crate) const HEARTBEATS_MISSED: u32 = 3;

impl Launcher {
    /// Starts each worker by running `program` with `args` (see [`Launcher`] for the
    /// environment it gets).
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_procpool::Launcher;
    ///
    /// // A worker on another machine; ssh forwards the variables (`SendEnv BRAID_PROCPOOL_*`
    /// // on this side, `AcceptEnv` on the other), and the program is installed there at
    /// // the same path.
    /// let launcher = Launcher::command(
    ///     "ssh",
    ///     ["-o", "SendEnv=BRAID_PROCPOOL_*", "worker-host", "exec \"$BRAID_PROCPOOL_EXE\""],
    /// )
    /// .listen("192.0.2.10:7070".parse().unwrap()); // this machine, as worker-host sees it
    /// # drop(launcher);
    /// ```
    pub fn command<P, I, S>(program: P, args: I) -> Launcher
    where
        P: Into<std::ffi::OsString>,
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        Launcher {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            listen: None,
            slurm: None,
            start_timeout: None,
            heartbeat: HEARTBEAT,
        }
    }

    /// Workers placed by Slurm: each one is a job step started with `srun`, inside the
    /// current allocation when there is one (`SLURM_JOB_ID` is set, as in a batch script),
    /// or in an allocation of its own otherwise. See [`Slurm`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use braid_procpool::{Launcher, ProcessPool};
    ///
    /// # braid_procpool::init();
    /// let pool = ProcessPool::builder()
    ///     .workers(64)
    ///     .launcher(Launcher::slurm().partition("compute").time_limit(Duration::from_secs(3600)))
    ///     .build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn slurm() -> Slurm {
        Slurm {
            srun: "srun".into(),
            partition: None,
            time_limit: None,
            cpus_per_worker: 1,
            args: Vec::new(),
            listen: None,
            start_timeout: std::time::Duration::from_secs(600),
            heartbeat: HEARTBEAT,
        }
    }

    /// The address the pool listens on for its workers' connections; `127.0.0.1:0` (a port
    /// the system picks, on this machine only) by default. Workers are told this address,
    /// with the port the system picked, so it must be one they can reach. For an
    /// unspecified address (`0.0.0.0` or `::`, every interface) they are told one of this
    /// host's others (the host name's, or else an interface's, not loopback where there
    /// is a choice); but then every interface takes connections, so prefer a real one.
    ///
    /// The handshake authenticates each connection; it does not encrypt or sign what
    /// follows. Whoever can read or write the path between the pool and a worker can read
    /// arguments and results and forge jobs, so listen on loopback or on a network you
    /// trust (an ssh tunnel, a private cluster network).
    pub fn listen(mut self, addr: std::net::SocketAddr) -> Launcher {
        self.listen = Some(addr);
        self
    }

    /// How long a worker may take to be ready, from the moment its command runs: to start,
    /// connect, prove itself and run the initializer. A minute by default. A worker that
    /// takes longer is killed and counted as a failed start; while the pool is being built,
    /// that fails the build.
    pub fn start_timeout(mut self, timeout: std::time::Duration) -> Launcher {
        self.start_timeout = Some(timeout);
        self
    }

    /// How often each worker tells the pool that it is alive: every 5 s by default. A
    /// thread of the worker's own sends the heartbeat, so a worker busy with a long task
    /// keeps sending it; a worker the pool hears nothing from for three intervals (its
    /// machine stopped, its network went, its process was frozen) is counted dead, its
    /// launcher killed, and its task fails with [`TaskError::WorkerDied`] saying so. The
    /// worker likewise drops a connection whose heartbeats go unacknowledged for ten
    /// intervals (Linux), and so ends when its pool's machine is gone.
    pub fn heartbeat(mut self, interval: std::time::Duration) -> Launcher {
        self.heartbeat = interval;
        self
    }
}

/// Workers placed on a cluster by Slurm ([`Launcher::slurm`]): every worker, the first ones
/// and each replacement, is one task of its own job step, started by `srun` with the
/// environment of [`Launcher`] and running this program's executable (clusters share their
/// file system; a worker of a different build is refused). Slurm decides where each one
/// runs; the worker connects back to the pool over TCP.
///
/// - **Where**: in a batch script or under `salloc` (`SLURM_JOB_ID` is set) each worker is
///   a step of that allocation (`srun --exact`, so steps share it), and workers beyond what
///   the allocation holds wait for a step to end, up to the start time-out; elsewhere each
///   worker asks for an allocation of its own, in [`partition`](Slurm::partition) for
///   [`time_limit`](Slurm::time_limit).
/// - **Listening**: on the address this host uses to reach Slurm's controller (the
///   interface Slurm's traffic takes), unless [`listen`](Slurm::listen) says otherwise;
///   never on every interface unless asked to.
/// - **Ending a worker**: a timeout or [`Shutdown::Kill`] asks its `srun` to stop
///   (`SIGTERM`, then `SIGKILL` five seconds later), and Slurm ends the step, or withdraws
///   the job of a worker still waiting in the queue; the worker also ends as soon as its
///   connection closes, so a pool whose process dies takes its workers with it.
/// - **Replacements**: a worker started in place of one that died waits in Slurm's queue
///   as long as Slurm keeps it there; its start time-out counts from when it connects.
/// - **Deaths**: a worker that dies fails only its own task with
///   [`TaskError::WorkerDied`], naming its node. `srun` reports a task killed by a signal
///   as exit code 128 + the signal's number; the pool reads such codes back as the signal
///   (a worker cannot tell `exit(137)` from a SIGKILL here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slurm {
    srun: std::ffi::OsString,
    partition: Option<String>,
    time_limit: Option<std::time::Duration>,
    cpus_per_worker: u32,
    args: Vec<std::ffi::OsString>,
    listen: Option<std::net::SocketAddr>,
    start_timeout: std::time::Duration,
    heartbeat: std::time::Duration,
}

impl Slurm {
    /// The partition each worker's own allocation is asked for in (`--partition`); not
    /// used inside an existing allocation, whose partition is already chosen.
    pub fn partition(mut self, name: impl Into<String>) -> Slurm {
        self.partition = Some(name.into());
        self
    }

    /// The longest a worker may run (`--time`, rounded up to whole seconds); Slurm ends it
    /// then, and the pool starts another.
    pub fn time_limit(mut self, limit: std::time::Duration) -> Slurm {
        self.time_limit = Some(limit);
        self
    }

    /// The processors each worker gets (`--cpus-per-task`); 1 by default.
    pub fn cpus_per_worker(mut self, cpus: u32) -> Slurm {
        self.cpus_per_worker = cpus;
        self
    }

    /// One more argument for `srun`, before the program, such as `--mem=4G` or
    /// `--constraint=avx512`.
    pub fn arg(mut self, arg: impl Into<std::ffi::OsString>) -> Slurm {
        self.args.push(arg.into());
        self
    }

    /// The program run as `srun`: a path, or a wrapper that takes `srun`'s arguments.
    pub fn srun_program(mut self, program: impl Into<std::ffi::OsString>) -> Slurm {
        self.srun = program.into();
        self
    }

    /// The address the pool listens on for its workers' connections (see
    /// [`Launcher::listen`]); the default is this host's address on Slurm's network, with a
    /// port the system picks.
    pub fn listen(mut self, addr: std::net::SocketAddr) -> Slurm {
        self.listen = Some(addr);
        self
    }

    /// How long a worker may take to be ready: ten minutes by default. While the pool is
    /// being built that counts from the moment its `srun` runs, waiting in Slurm's queue
    /// included, and building waits for every worker, so a pool that asks for more workers
    /// than its allocation (or the cluster) can hold at once fails to build after this
    /// long; ask for as many tasks as workers. A replacement's counts from the moment it
    /// connects: however long it waits in the queue, it is not a failed start.
    pub fn start_timeout(mut self, timeout: std::time::Duration) -> Slurm {
        self.start_timeout = timeout;
        self
    }

    /// How often each worker tells the pool that it is alive (see
    /// [`Launcher::heartbeat`]); every 5 s by default.
    pub fn heartbeat(mut self, interval: std::time::Duration) -> Slurm {
        self.heartbeat = interval;
        self
    }

    /// `srun`'s arguments for one worker running `exe`, for a pool that runs `place`d so.
    pub(crate) fn srun_args(
        &self,
        exe: &std::path::Path,
        place: Placement,
    ) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--ntasks=1".into(),
            "--nodes=1".into(),
            format!("--cpus-per-task={}", self.cpus_per_worker).into(),
            "--job-name=braid-worker".into(),
            // The worker learns its role from the environment: pass it on whatever the
            // site's default (`SLURM_EXPORT_ENV`) is.
            "--export=ALL".into(),
        ];
        if place != Placement::Outside {
            // Only what the step asks for, so that the steps of many workers share the
            // allocation instead of waiting for each other.
            args.push("--exact".into());
        }
        if place == Placement::InStep {
            // The pool's own step holds the allocation's resources (`srun ./app` inside a
            // batch script): a step that does not overlap it would wait for it for good.
            args.push("--overlap".into());
        }
        if place == Placement::Outside {
            if let Some(partition) = &self.partition {
                args.push(format!("--partition={partition}").into());
            }
        }
        if let Some(limit) = self.time_limit {
            let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
            let (days, rest) = (secs / 86_400, secs % 86_400);
            args.push(
                format!(
                    "--time={days}-{:02}:{:02}:{:02}",
                    rest / 3600,
                    rest / 60 % 60,
                    rest % 60
                )
                .into(),
            );
        }
        args.extend(self.args.iter().cloned());
        args.push(exe.into());
        args
    }

    /// What is wrong with these settings, if anything.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.cpus_per_worker == 0 {
            return Err("a Slurm worker needs at least 1 cpu, not 0");
        }
        if self.start_timeout.is_zero() {
            return Err("a start time-out must be longer than zero");
        }
        if self.time_limit == Some(std::time::Duration::ZERO) {
            return Err("a Slurm time limit must be longer than zero");
        }
        Ok(())
    }
}

/// Where a pool placed by Slurm runs, which says how its workers' steps are asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Not inside an allocation: each worker gets one of its own.
    Outside,
    /// Inside an allocation (`SLURM_JOB_ID`), as a batch script or `salloc` runs it.
    InAllocation,
    /// Inside a step of an allocation (`SLURM_STEP_ID` too), as `srun ./app` runs it.
    InStep,
}

impl Placement {
    /// Where this process runs, from the variables Slurm sets.
    pub(crate) fn here() -> Placement {
        match (
            std::env::var_os("SLURM_JOB_ID").is_some(),
            std::env::var_os("SLURM_STEP_ID").is_some(),
        ) {
            (false, _) => Placement::Outside,
            (true, false) => Placement::InAllocation,
            (true, true) => Placement::InStep,
        }
    }
}

impl From<Slurm> for Launcher {
    fn from(slurm: Slurm) -> Launcher {
        Launcher {
            program: slurm.srun.clone(),
            args: Vec::new(),
            listen: slurm.listen,
            start_timeout: Some(slurm.start_timeout),
            heartbeat: slurm.heartbeat,
            slurm: Some(slurm),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::ffi::OsString;
    use std::path::Path;
    use std::time::Duration;

    fn args(slurm: &Slurm, place: Placement) -> Vec<String> {
        slurm
            .srun_args(Path::new("/opt/app"), place)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn srun_gets_one_task_the_settings_and_the_executable_last() {
        let slurm = Launcher::slurm()
            .partition("compute")
            .time_limit(Duration::from_millis(90_061_500))
            .cpus_per_worker(4)
            .arg("--mem=4G");
        let outside = args(&slurm, Placement::Outside);
        assert_eq!(
            outside,
            [
                "--ntasks=1",
                "--nodes=1",
                "--cpus-per-task=4",
                "--job-name=braid-worker",
                "--export=ALL",
                "--partition=compute",
                "--time=1-01:01:02",
                "--mem=4G",
                "/opt/app",
            ]
        );
        // Inside an allocation: a step that takes only its share, in the allocation's
        // partition.
        let inside = args(&slurm, Placement::InAllocation);
        assert!(inside.contains(&"--exact".to_owned()), "{inside:?}");
        assert!(!inside.contains(&"--overlap".to_owned()), "{inside:?}");
        // Inside the pool's own step, the workers' steps must overlap it.
        let in_step = args(&slurm, Placement::InStep);
        assert!(in_step.contains(&"--exact".to_owned()), "{in_step:?}");
        assert!(in_step.contains(&"--overlap".to_owned()), "{in_step:?}");
        assert!(
            !inside.iter().any(|a| a.starts_with("--partition")),
            "{inside:?}"
        );
        assert_eq!(inside.last().unwrap(), "/opt/app");
        let hour = args(
            &Launcher::slurm().time_limit(Duration::from_secs(3600)),
            Placement::Outside,
        );
        assert!(hour.contains(&"--time=0-01:00:00".to_owned()), "{hour:?}");
    }

    #[test]
    fn bad_slurm_settings_are_refused() {
        assert!(Launcher::slurm().cpus_per_worker(0).check().is_err());
        assert!(Launcher::slurm()
            .time_limit(Duration::ZERO)
            .check()
            .is_err());
        assert!(Launcher::slurm().check().is_ok());
    }

    #[test]
    fn a_slurm_launcher_runs_srun_and_keeps_its_address() {
        let addr: std::net::SocketAddr = "10.0.0.1:7000".parse().unwrap();
        let launcher: Launcher = Launcher::slurm()
            .srun_program("/usr/local/bin/srun")
            .listen(addr)
            .into();
        assert_eq!(launcher.program, OsString::from("/usr/local/bin/srun"));
        assert_eq!(launcher.listen, Some(addr));
        assert!(launcher.slurm.is_some());
        assert_eq!(Launcher::command("sh", ["-c"]).listen, None);
    }
}
