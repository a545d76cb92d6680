//! TCP echo servers on braid, tokio's current-thread runtime, Python asyncio streams and
//! uvloop, all driven by the same client: 50 connections, each sending 64 bytes and waiting
//! for them to come back, 2,000 times.
//!
//! The client is one thread running a plain readiness loop on `mio`, so it is the same
//! program for every server and is not built on any of the contenders. Each Rust server runs
//! on a thread of its own; each Python server is a process of its own.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::measurement::{Cell, LayerReport, Peer, Unit};
use crate::probe::rusage;
use crate::python::{Python, PythonServer};
use crate::report::thousands;
use crate::settings::{in_unit, median, Contender, Settings};
use crate::WORKERS;

/// The layer's name.
pub const LAYER: &str = "echo";

/// Connections the client opens to each server.
pub const CONNECTIONS: u64 = 50;
const MESSAGE: usize = 64;
/// The client gives up when no reply comes for this long: a hang guard, not a measurement.
const STALL: Duration = Duration::from_secs(10);

/// Measures the echo servers' round-trip throughput.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(
        LAYER,
        vec![
            Peer::rival("tokio current"),
            Peer::rival("py asyncio"),
            Peer::rival("py uvloop"),
        ],
    );
    let trips = settings.pick(2_000, 400);
    let total = CONNECTIONS * trips;

    // Every server is up before the first round, so that the client can go from one to
    // the next within a round; an idle server waits in its poller and costs nothing.
    let braid = EchoServer::braid();
    let tokio = EchoServer::tokio();
    let (asyncio, uvloop) = match &settings.python {
        Ok(python) => {
            let asyncio = python_server(python, &[], &mut layer, "py asyncio");
            if !python.has_module("uvloop") && settings.install_missing {
                if let Err(why) = python.install("uvloop", Duration::from_secs(60)) {
                    layer.note(format!("py uvloop: {why}"));
                }
            }
            let uvloop = python_server(python, &["--uvloop"], &mut layer, "py uvloop");
            (asyncio, uvloop)
        }
        Err(why) => {
            layer.note(format!("Python servers: {why}"));
            (Err(why.clone()), Err(why.clone()))
        }
    };
    // Each contender's run also reads how much CPU time its server spent, for the second
    // row. A Rust server is every thread of this process but the client's; a Python server
    // is its own process.
    let cpu: Vec<ServerCpu> = (0..4).map(|_| ServerCpu::new(settings.warmups)).collect();
    let client = |server, cpu| timed_with_cpu(server, cpu, trips);
    let rust = |server: &io::Result<EchoServer>| {
        server
            .as_ref()
            .map(|server| (server.addr(), Whose::ThisProcess))
            .map_err(|e| format!("the server did not start: {e}"))
    };
    let python = |server: &Result<PythonServer, String>| {
        server
            .as_ref()
            .map(|server| (server.addr(), Whose::Process(server.id())))
            .map_err(Clone::clone)
    };
    let (braid_cell, peers) = settings.side_by_side(
        Unit::KOpsPerSec,
        total,
        client(rust(&braid), &cpu[0]),
        vec![
            client(rust(&tokio), &cpu[1]),
            client(python(&asyncio), &cpu[2]),
            client(python(&uvloop), &cpu[3]),
        ],
    );
    drop((braid, tokio, asyncio, uvloop));
    let workload = format!(
        "{CONNECTIONS} connections x {} round trips of 64 B",
        thousands(trips)
    );
    let mut cpu_cells = cpu
        .iter()
        .zip(std::iter::once(&braid_cell).chain(&peers))
        .map(|(cpu, wall)| cpu.cell(wall, total));
    let braid_cpu = cpu_cells.next().expect("braid's cell");
    let peers_cpu = cpu_cells.collect();
    layer.push(workload, Unit::KOpsPerSec, braid_cell, peers);
    layer.push(
        "server CPU time per round trip (same runs)",
        Unit::UsPerOp,
        braid_cpu,
        peers_cpu,
    );
    layer.note("echo is thousands of round trips per second, all connections together; one client thread drives every server, one server after another in each round");
    layer.note("server CPU is user and kernel time together (getrusage for the Rust servers, /proc for the Python ones); most of it is the kernel's loopback TCP, which every server pays alike");
    layer
}

/// The name of the layer that spreads one server over a loop per core.
pub const CORES_LAYER: &str = "echo, loop per core";

/// Measures the echo workload against servers spread over [`WORKERS`] threads: braid's
/// [`Runtime`](braid_executor::Runtime) with a loop per thread, and tokio's multi-thread
/// runtime with as many workers. The client is the same one-thread client as in [`measure`].
pub fn measure_cores(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(CORES_LAYER, vec![Peer::rival("tokio multi-thread")]);
    let trips = settings.pick(2_000, 400);
    let total = CONNECTIONS * trips;
    let client = |server: &io::Result<MultiServer>| match server {
        Ok(server) => {
            let addr = server.addr();
            Contender::runs(move || drive(addr, CONNECTIONS, trips))
        }
        Err(e) => Cell::Missing(format!("the server did not start: {e}")).into(),
    };
    let rows = [
        (
            Yield::Default,
            format!(
                "{CONNECTIONS} connections x {} round trips, {WORKERS} threads",
                thousands(trips)
            ),
        ),
        (
            Yield::Never,
            "the same, braid's loops never yield before sleeping".to_owned(),
        ),
    ];
    for (yielding, workload) in rows {
        let braid = MultiServer::braid(WORKERS, yielding);
        let tokio = MultiServer::tokio(WORKERS);
        let (braid_cell, peers) = settings.side_by_side(
            Unit::KOpsPerSec,
            total,
            client(&braid),
            vec![client(&tokio)],
        );
        drop((braid, tokio));
        layer.push(workload, Unit::KOpsPerSec, braid_cell, peers);
    }

    // A neighbour that never blocks: each core also runs a thread that spins, so a yield
    // may hand it a whole scheduler slice. One connection, so every round trip waits on it.
    // First with every thread free to move, then with each server thread pinned to a core
    // that a pinned spinner shares, where the spinner cannot be moved out of a yield's way.
    let spin_trips = settings.pick(2_000, 500);
    let one = |server: &io::Result<MultiServer>| match server {
        Ok(server) => {
            let addr = server.addr();
            Contender::runs(move || drive(addr, 1, spin_trips))
        }
        Err(e) => Cell::Missing(format!("the server did not start: {e}")).into(),
    };
    for pinned in [false, true] {
        let braid = MultiServer::braid(WORKERS, Yield::Default);
        let tokio = MultiServer::tokio(WORKERS);
        let spinning = if pinned {
            pin_server_threads(&braid)
                .and(pin_server_threads(&tokio))
                .and_then(|()| Spinners::start_pinned(WORKERS))
        } else {
            Ok(Spinners::start(WORKERS))
        };
        let (braid_cell, peers) = match &spinning {
            Ok(_) => {
                settings.side_by_side(Unit::KOpsPerSec, spin_trips, one(&braid), vec![one(&tokio)])
            }
            Err(e) => {
                let missing = Cell::Missing(format!("threads could not be pinned: {e}"));
                (missing.clone(), vec![missing])
            }
        };
        drop(spinning);
        drop((braid, tokio));
        let workload = if pinned {
            "the same, each server thread pinned to a core with a pinned spinning thread".to_owned()
        } else {
            format!(
                "1 connection x {} round trips beside {WORKERS} spinning threads",
                thousands(spin_trips)
            )
        };
        layer.push(workload, Unit::KOpsPerSec, braid_cell, peers);
    }
    layer.note(format!(
        "loop per core: braid's Runtime with {WORKERS} loops (SO_REUSEPORT on Linux) vs tokio's multi-thread runtime with {WORKERS} workers, both with default settings; the client thread shares the cores"
    ));
    layer.note("braid's Runtime yields before sleeping by default, holding yields back while they are slow and bring at most one event; \"never yield\" is the Runtime built with yield_before_sleep(false)");
    layer.note(format!(
        "spinning threads: {WORKERS} threads of this process spin at normal priority for the whole row, so every server thread shares its core with one; pinned: server thread and spinner n on the n-th CPU this process may use (Linux), the client free"
    ));
    layer
}

/// How braid's loops yield before sleeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yield {
    /// The runtime's default: yield, holding wasted yields back.
    Default,
    /// `yield_before_sleep(false)`.
    Never,
}

/// Threads that spin until dropped: neighbours that never block.
#[derive(Debug)]
pub struct Spinners {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Spinners {
    /// Starts `n` spinning threads.
    pub fn start(n: usize) -> Spinners {
        Spinners::spawn(&vec![None; n]).expect("an unpinned spinning thread cannot fail to start")
    }

    /// Starts `n` spinning threads, the n-th pinned to the n-th CPU this process may use.
    ///
    /// # Errors
    ///
    /// Where threads cannot be pinned (not Linux) or fewer than `n` CPUs are allowed.
    pub fn start_pinned(n: usize) -> io::Result<Spinners> {
        let cpus = allowed_cpus()?;
        if cpus.len() < n {
            return Err(io::Error::other(format!(
                "{n} CPUs wanted, {} allowed",
                cpus.len()
            )));
        }
        let cpus: Vec<Option<usize>> = cpus[..n].iter().copied().map(Some).collect();
        Spinners::spawn(&cpus)
    }

    /// A spinning thread for each of `cpus`, pinned to it where it names one; returns once
    /// every thread spins where it should.
    fn spawn(cpus: &[Option<usize>]) -> io::Result<Spinners> {
        let stop = Arc::new(AtomicBool::new(false));
        let (placed_tx, placed_rx) = std::sync::mpsc::channel();
        let threads = cpus
            .iter()
            .map(|&cpu| {
                let (stop, placed) = (stop.clone(), placed_tx.clone());
                thread::spawn(move || {
                    let _ = placed.send(cpu.map_or(Ok(()), |cpu| pin_thread(0, cpu)));
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        // Dropped on an early return, which stops and joins every thread.
        let spinners = Spinners { stop, threads };
        for _ in cpus {
            placed_rx
                .recv()
                .map_err(|_| io::Error::other("a spinning thread ended before it spun"))??;
        }
        Ok(spinners)
    }
}

/// The CPUs this process may run on, in order.
#[cfg(target_os = "linux")]
fn allowed_cpus() -> io::Result<Vec<usize>> {
    braid_sys::cpu::allowed()
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> io::Result<Vec<usize>> {
    Err(io::Error::other("pinning threads needs Linux"))
}

/// Pins thread `tid` of this process (0: the calling thread) to `cpu`.
#[cfg(target_os = "linux")]
fn pin_thread(tid: libc::pid_t, cpu: usize) -> io::Result<()> {
    braid_sys::cpu::pin(tid, cpu)
}

#[cfg(not(target_os = "linux"))]
fn pin_thread(_tid: libc::pid_t, _cpu: usize) -> io::Result<()> {
    Err(io::Error::other("pinning threads needs Linux"))
}

/// How tokio's worker threads' names begin, as the system keeps them (15 bytes at most):
/// tokio names them `tokio-rt-worker`, or `tokio-runtime-worker` in older releases.
const TOKIO_WORKER_NAME: &str = "tokio-r";

/// Pins the threads that serve connections in `server` (braid's loops, tokio's workers),
/// the n-th one found to the n-th allowed CPU, found by name among this process's threads.
/// A new thread names itself once it runs, so this looks again for up to a second.
fn pin_server_threads(server: &io::Result<MultiServer>) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match pin_named_threads(server) {
            Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::NotFound => {
                thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn pin_named_threads(server: &io::Result<MultiServer>) -> io::Result<()> {
    let server = server
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
    let prefix = match server {
        MultiServer::Braid { .. } => "braid-loop",
        MultiServer::Tokio { .. } => TOKIO_WORKER_NAME,
    };
    let cpus = allowed_cpus()?;
    let mut tids = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let entry = entry?;
        // A thread that ended meanwhile has no name to read.
        let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if name.starts_with(prefix) {
            let tid: libc::pid_t = entry
                .file_name()
                .to_string_lossy()
                .parse()
                .map_err(io::Error::other)?;
            tids.push(tid);
        }
    }
    if tids.len() != WORKERS {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} threads named {prefix}*, {WORKERS} expected", tids.len()),
        ));
    }
    for (n, tid) in tids.into_iter().enumerate() {
        pin_thread(tid, cpus[n % cpus.len()])?;
    }
    Ok(())
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// An echo server whose connections are spread over several threads; stopped when dropped.
#[derive(Debug)]
pub enum MultiServer {
    /// braid: one event loop per thread, each accepting on its own `SO_REUSEPORT` socket.
    Braid {
        /// Stops accepting when dropped; declared first so it drops before the runtime.
        server: braid_executor::runtime::Server,
        /// The loops.
        runtime: braid_executor::Runtime,
    },
    /// tokio: one accept loop, connections spawned onto the multi-thread runtime.
    Tokio {
        /// Where it listens.
        addr: SocketAddr,
        /// The workers; dropping it cancels the tasks and joins them.
        runtime: tokio::runtime::Runtime,
    },
}

impl MultiServer {
    /// Starts braid's echo server on a [`Runtime`](braid_executor::Runtime) of `loops`
    /// loops, with their yields before sleeping as `yielding` says.
    ///
    /// # Errors
    ///
    /// When the loops cannot start or no listener can be bound on 127.0.0.1.
    pub fn braid(loops: usize, yielding: Yield) -> io::Result<MultiServer> {
        let mut builder = braid_executor::Runtime::builder().loops(loops);
        if yielding == Yield::Never {
            builder = builder.yield_before_sleep(false);
        }
        let runtime = builder.build()?;
        let server = runtime.serve("127.0.0.1:0", echo_braid)?;
        Ok(MultiServer::Braid { server, runtime })
    }

    /// Starts tokio's echo server on a multi-thread runtime of `workers` workers.
    ///
    /// # Errors
    ///
    /// When the runtime cannot start or no listener can be bound on 127.0.0.1.
    pub fn tokio(workers: usize) -> io::Result<MultiServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _enter = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(echo_tokio(stream));
            }
        });
        Ok(MultiServer::Tokio { addr, runtime })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        match self {
            MultiServer::Braid { server, .. } => server.local_addr(),
            MultiServer::Tokio { addr, .. } => *addr,
        }
    }
}

/// Starts the Python echo server with `args`, noting why when it does not start.
fn python_server(
    python: &Python,
    args: &[&str],
    layer: &mut LayerReport,
    name: &str,
) -> Result<PythonServer, String> {
    python
        .start_server("echo_asyncio.py", args, Duration::from_secs(30))
        .inspect_err(|why| layer.note(format!("{name}: {why}")))
}

/// A Rust echo server on a thread of its own, stopped and joined when dropped.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl EchoServer {
    /// Starts braid's echo server: one task per connection on braid's event loop.
    ///
    /// # Errors
    ///
    /// When no listener can be bound on 127.0.0.1.
    pub fn braid() -> io::Result<EchoServer> {
        EchoServer::start(serve_braid)
    }

    /// Starts tokio's echo server: one local task per connection on a current-thread
    /// runtime.
    ///
    /// # Errors
    ///
    /// When no listener can be bound on 127.0.0.1.
    pub fn tokio() -> io::Result<EchoServer> {
        EchoServer::start(serve_tokio)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Binds a listener on 127.0.0.1 and hands it to `serve` on a new thread. `serve` must
    /// return once the stop flag is set and one more connection arrives.
    fn start(serve: fn(TcpListener, Arc<AtomicBool>) -> io::Result<()>) -> io::Result<EchoServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let stop = Arc::clone(&stop);
            move || serve(listener, stop)
        });
        Ok(EchoServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The connection wakes the accept loop, which then sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            // A server that never stops must not hang the whole comparison: after a grace
            // period its thread is left to end with the process.
            let deadline = Instant::now() + STALL;
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn serve_braid(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    braid_executor::run(async move {
        let listener = braid_executor::net::TcpListener::from_std(listener)?;
        loop {
            let (stream, _) = listener.accept().await?;
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            braid_executor::spawn(echo_braid(stream)).detach();
        }
    })
}

fn serve_tokio(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        loop {
            let (stream, _) = listener.accept().await?;
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            tokio::task::spawn_local(echo_tokio(stream));
        }
    })
}

/// braid's side of one connection, on every braid server: sends back what arrives until the
/// client closes or the socket fails.
async fn echo_braid(stream: braid_executor::net::TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = [0; 4096];
    loop {
        let n = stream.recv(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.send_all(&buf[..n]).await?;
    }
}

/// [`echo_braid`] for every tokio server.
async fn echo_tokio(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.set_nodelay(true)?;
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// A contender that runs the client against a server, given as its address and whose CPU
/// time it spends, and also puts down that CPU time in each run.
fn timed_with_cpu(
    server: Result<(SocketAddr, Whose), String>,
    cpu: &ServerCpu,
    trips: u64,
) -> Contender<'_> {
    match server {
        Ok((addr, whose)) => Contender::runs(move || {
            let before = whose.cpu_time();
            let elapsed = drive(addr, CONNECTIONS, trips)?;
            cpu.record(before, whose.cpu_time());
            Ok(elapsed)
        }),
        Err(why) => Cell::Missing(why).into(),
    }
}

/// Whose CPU time a server's is.
#[derive(Clone, Copy, Debug)]
enum Whose {
    /// Every thread of this process but the calling one (the client).
    ThisProcess,
    /// Every thread of another process.
    Process(u32),
}

impl Whose {
    /// CPU time spent so far, user and kernel together; `None` where it cannot be read.
    fn cpu_time(self) -> Option<Duration> {
        match self {
            Whose::ThisProcess => others_cpu_time(),
            Whose::Process(pid) => process_cpu_time(pid),
        }
    }
}

/// The CPU time of every thread of this process but the calling one.
#[cfg(target_os = "linux")]
fn others_cpu_time() -> Option<Duration> {
    // `getrusage` keeps the time of threads that have ended; `/proc` would not.
    let all = rusage_time(libc::RUSAGE_SELF)?;
    Some(all.saturating_sub(rusage_time(libc::RUSAGE_THREAD)?))
}

/// Per-thread usage is Linux's alone.
#[cfg(not(target_os = "linux"))]
fn others_cpu_time() -> Option<Duration> {
    None
}

/// User and kernel time of this process (`RUSAGE_SELF`) or of the calling thread
/// (`RUSAGE_THREAD`).
fn rusage_time(who: libc::c_int) -> Option<Duration> {
    let usage = rusage(who).ok()?;
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).ok()?)
            .checked_add(Duration::from_micros(u64::try_from(t.tv_usec).ok()?))
    };
    time(usage.ru_utime)?.checked_add(time(usage.ru_stime)?)
}

/// The CPU time of every thread of process `pid`, from `/proc`.
fn process_cpu_time(pid: u32) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        // The first field of `schedstat` is nanoseconds on a CPU. A thread that ends takes
        // its time along, but a server's threads last as long as it does.
        let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += Duration::from_nanos(text.split_whitespace().next()?.parse().ok()?);
    }
    Some(total)
}

/// A server's CPU time in each timed run of one contender.
struct ServerCpu {
    /// Runs still to skip: the warm-ups.
    skip: std::cell::Cell<u32>,
    /// One entry per timed run; `None` where the time could not be read.
    samples: std::cell::RefCell<Vec<Option<Duration>>>,
}

impl ServerCpu {
    fn new(warmups: u32) -> ServerCpu {
        ServerCpu {
            skip: std::cell::Cell::new(warmups),
            samples: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn record(&self, before: Option<Duration>, after: Option<Duration>) {
        if self.skip.get() > 0 {
            self.skip.set(self.skip.get() - 1);
            return;
        }
        let spent = before
            .zip(after)
            .map(|(before, after)| after.saturating_sub(before));
        self.samples.borrow_mut().push(spent);
    }

    /// The median CPU time per round trip, as a cell of its row; a contender whose
    /// throughput has no value has none here either.
    fn cell(&self, wall: &Cell, round_trips: u64) -> Cell {
        if !matches!(wall, Cell::Value(_)) {
            return wall.clone();
        }
        let samples = self.samples.borrow();
        let Some(mut times) = samples.iter().copied().collect::<Option<Vec<_>>>() else {
            return Cell::Missing("the server's CPU time cannot be read here".into());
        };
        if times.is_empty() {
            return Cell::Missing("no timed run".into());
        }
        Cell::Value(in_unit(median(&mut times), round_trips, Unit::UsPerOp))
    }
}

struct Connection {
    stream: mio::net::TcpStream,
    /// Bytes of the current reply received so far.
    received: usize,
    /// Round trips completed.
    done: u64,
}

/// Writes one whole message; a full send buffer (never expected with one small message in
/// flight) is waited out.
fn send(stream: &mut mio::net::TcpStream) -> io::Result<()> {
    let message = [7u8; MESSAGE];
    let mut sent = 0;
    while sent < MESSAGE {
        match stream.write(&message[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The shared client: opens `connections` connections to `addr`, then times `trips` round
/// trips of 64 bytes on each, all in flight at once.
///
/// # Errors
///
/// A connection that fails, a server that closes one, echoes too much, or stops answering
/// for 10 s.
pub fn drive(addr: SocketAddr, connections: u64, trips: u64) -> io::Result<Duration> {
    let mut poll = mio::Poll::new()?;
    let mut events = mio::Events::with_capacity(1024);
    let mut conns = Vec::with_capacity(connections as usize);
    for key in 0..connections as usize {
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry()
            .register(&mut stream, mio::Token(key), mio::Interest::READABLE)?;
        conns.push(Connection {
            stream,
            received: 0,
            done: 0,
        });
    }
    let start = Instant::now();
    for conn in &mut conns {
        send(&mut conn.stream)?;
    }
    let mut finished = 0;
    let mut buf = [0u8; 4096];
    while finished < conns.len() {
        poll.poll(&mut events, Some(STALL))?;
        if events.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the echo server stopped answering",
            ));
        }
        for event in events.iter() {
            let conn = &mut conns[event.token().0];
            loop {
                match conn.stream.read(&mut buf) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the echo server closed a connection",
                        ))
                    }
                    Ok(n) => {
                        conn.received += n;
                        if conn.received > MESSAGE {
                            return Err(io::Error::other(
                                "the echo server sent more than it was sent",
                            ));
                        }
                        if conn.received == MESSAGE {
                            conn.received = 0;
                            conn.done += 1;
                            if conn.done < trips {
                                send(&mut conn.stream)?;
                            } else {
                                finished += 1;
                            }
                        }
                        if n < buf.len() {
                            // A short read emptied the socket: the next byte comes with a
                            // new edge, so asking again would only return `WouldBlock`.
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cpu_skips_warm_ups_and_takes_the_median_per_round_trip() {
        let cpu = ServerCpu::new(1);
        let ms = |n| Some(Duration::from_millis(n));
        // The warm-up is left out however long it took.
        cpu.record(ms(0), ms(1_000));
        for spent in [30, 10, 20] {
            cpu.record(ms(100), ms(100 + spent));
        }
        // The median is 20 ms over 1,000 round trips: 20 µs each.
        assert_eq!(cpu.cell(&Cell::Value(1.0), 1_000), Cell::Value(20.0));
    }

    #[test]
    fn server_cpu_has_no_value_without_a_throughput_or_a_reading() {
        let cpu = ServerCpu::new(0);
        cpu.record(Some(Duration::ZERO), Some(Duration::from_millis(5)));
        let missing = Cell::Missing("the server did not start".into());
        assert_eq!(cpu.cell(&missing, 10), missing);
        assert_eq!(cpu.cell(&Cell::NotApplicable, 10), Cell::NotApplicable);
        cpu.record(None, Some(Duration::from_millis(5)));
        assert!(matches!(cpu.cell(&Cell::Value(1.0), 10), Cell::Missing(_)));
        assert!(matches!(
            ServerCpu::new(0).cell(&Cell::Value(1.0), 10),
            Cell::Missing(_)
        ));
    }

    /// Spins until the calling thread has used `cpu` of CPU time.
    #[cfg(target_os = "linux")]
    fn spin_for(cpu: Duration) {
        let start = rusage_time(libc::RUSAGE_THREAD).unwrap();
        while rusage_time(libc::RUSAGE_THREAD).unwrap() - start < cpu {
            std::hint::black_box(0);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_cpu_time_counts_other_threads_even_ended_ones() {
        let before = Whose::ThisProcess.cpu_time().unwrap();
        // A thread that has ended still counts.
        thread::spawn(|| spin_for(Duration::from_millis(50)))
            .join()
            .unwrap();
        let after = Whose::ThisProcess.cpu_time().unwrap();
        assert!(after.saturating_sub(before) >= Duration::from_millis(50));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn another_process_cpu_time_grows_while_it_works() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let whose = Whose::Process(child.id());
        let start = Instant::now();
        let mut spent = Duration::ZERO;
        while spent < Duration::from_millis(30) && start.elapsed() < STALL {
            thread::sleep(Duration::from_millis(5));
            spent = whose.cpu_time().unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(spent >= Duration::from_millis(30), "{spent:?}");
        // Gone, it has no time to read.
        assert_eq!(whose.cpu_time(), None);
    }

    #[test]
    fn the_client_drives_both_rust_servers_and_they_stop() {
        for serve in [serve_braid, serve_tokio] {
            let server = EchoServer::start(serve).unwrap();
            let addr = server.addr;
            drive(addr, 3, 20).unwrap();
            drop(server);
            // The listener is gone with its thread.
            assert!(std::net::TcpStream::connect(addr).is_err());
        }
    }

    /// A spinner that cannot be pinned fails the start with the system's word for it, and
    /// the ones already spinning are stopped: the call returns at all only once they are.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinner_that_cannot_be_pinned_fails_the_start_and_stops_the_others() {
        let cpu = allowed_cpus().unwrap()[0];
        let error = Spinners::spawn(&[None, Some(cpu), Some(usize::MAX)])
            .expect_err("a CPU no mask holds was accepted");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        let spinners = Spinners::start_pinned(1).unwrap();
        assert_eq!(spinners.threads.len(), 1);
    }

    #[test]
    fn the_client_drives_both_multi_thread_servers_and_they_stop() {
        for server in [
            MultiServer::braid(2, Yield::Default),
            MultiServer::braid(2, Yield::Never),
            MultiServer::tokio(2),
        ] {
            let server = server.unwrap();
            let addr = server.addr();
            drive(addr, 8, 20).unwrap();
            drop(server);
            // Both stop listening when dropped.
            assert!(std::net::TcpStream::connect(addr).is_err());
        }
    }

    /// A server for one connection, on a thread: it reads each 64-byte message and answers
    /// it with `answer`, until the client goes.
    fn one_connection_server(
        answer: fn(&mut std::net::TcpStream, &[u8]) -> io::Result<()>,
    ) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            let mut message = [0u8; MESSAGE];
            while stream.read_exact(&mut message).is_ok() && answer(&mut stream, &message).is_ok() {
            }
        });
        (addr, server)
    }

    #[test]
    fn the_client_puts_together_replies_that_arrive_in_pieces() {
        // Each piece is a short read; the client must still hear of the piece after it.
        let (addr, server) = one_connection_server(|stream, message| {
            stream.write_all(&message[..10])?;
            thread::sleep(Duration::from_millis(1));
            stream.write_all(&message[10..])
        });
        drive(addr, 1, 20).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn the_client_reports_a_server_that_echoes_too_much() {
        let (addr, server) = one_connection_server(|stream, message| {
            stream.write_all(message)?;
            stream.write_all(b"!")
        });
        let error = drive(addr, 1, 20).unwrap_err();
        server.join().unwrap();
        assert!(
            error.to_string().contains("more than it was sent"),
            "{error}"
        );
    }

    #[test]
    fn the_client_reports_a_server_that_hangs_up() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            drop(stream);
        });
        let error = drive(addr, 1, 5).unwrap_err();
        closer.join().unwrap();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
            ),
            "{error}"
        );
    }
}
