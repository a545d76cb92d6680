//! hyper's "Hello, world!" HTTP/1.1 server on braid (through braid-hyper) and on tokio's
//! current-thread runtime (through hyper-util's tokio glue), each driven by `wrk` with 50
//! connections for a fixed time.
//!
//! The servers are one program: the same hyper builder with a timer (so the header-read
//! timeout is on, as in a real server), the same service, one task per connection, each on a
//! thread of its own. Only the runtime glue differs. A third server is braid again with the
//! reads a `futures::io::AsyncRead` adapter must do: zero hyper's read buffer, then read into
//! it. It is a reference column, left out of the ratio, that shows what reading straight into
//! hyper's uninitialised buffer saves.

use std::convert::Infallible;
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{ready, Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use braid_hyper::{BraidIo, BraidTimer};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

use crate::measurement::{Cell, LayerReport, Peer, Unit};
use crate::settings::{check, Contender, Settings};

/// The layer's name.
pub const LAYER: &str = "http (hyper)";

/// Connections `wrk` keeps open to each server.
pub const CONNECTIONS: u32 = 50;

/// The nominal operation count every run reports: a run turns what `wrk` counted into the
/// time these many requests would take at its rate, so the shared timing loop, which
/// divides a count by a time, gives requests per second.
const NOMINAL_REQUESTS: u64 = 1_000_000;

/// How long a server may take to stop before it is left to end with the process.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Measures the hyper servers' throughput and the CPU time they spend per request.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(
        LAYER,
        vec![
            Peer::rival("tokio current"),
            Peer::floor("braid, zeroed reads"),
        ],
    );
    let seconds = settings.pick(3, 1);
    let workload = format!("hello world, wrk -t1 -c{CONNECTIONS}, {seconds} s runs");
    let cpu_workload = "server CPU time per request (same runs)";
    if let Err(why) = wrk_version() {
        let missing = || Cell::Missing(format!("wrk cannot be started: {why}"));
        layer.push(
            workload,
            Unit::KOpsPerSec,
            missing(),
            vec![missing(), missing()],
        );
        layer.push(
            cpu_workload,
            Unit::UsPerOp,
            missing(),
            vec![missing(), missing()],
        );
        return layer;
    }

    let servers = [
        HttpServer::start(serve_braid),
        HttpServer::start(serve_tokio),
        HttpServer::start(serve_braid_zeroing),
    ];
    let cpu: Vec<ServerCpu> = (0..3).map(|_| ServerCpu::new(settings.warmups)).collect();
    let mut contenders: Vec<Contender<'_>> = servers
        .iter()
        .zip(&cpu)
        .map(|(server, cpu)| match server {
            Ok(server) => Contender::runs(move || run_wrk(server, cpu, seconds)),
            Err(e) => Cell::Missing(format!("the server did not start: {e}")).into(),
        })
        .collect();
    let braid = contenders.remove(0);
    let (braid_cell, peers) =
        settings.side_by_side(Unit::KOpsPerSec, NOMINAL_REQUESTS, braid, contenders);
    drop(servers);

    let mut cpu_cells = cpu
        .iter()
        .zip(std::iter::once(&braid_cell).chain(&peers))
        .map(|(cpu, wall)| cpu.cell(wall));
    let braid_cpu = cpu_cells.next().expect("braid's cell");
    let peers_cpu = cpu_cells.collect();
    layer.push(workload, Unit::KOpsPerSec, braid_cell, peers);
    layer.push(cpu_workload, Unit::UsPerOp, braid_cpu, peers_cpu);
    layer.note("http is thousands of requests per second that wrk (one thread, 50 keep-alive connections) counted; each server is hyper 1.x's HTTP/1.1 connection on one thread, with a timer");
    layer.note("server CPU is the server thread's user and kernel time (Linux's /proc schedstat) over the requests wrk counted");
    layer.note("braid, zeroed reads: the braid server reading through a futures-io style adapter that zeroes hyper's read buffer before each read; a reference, not in the ratio");
    layer
}

/// Runs `wrk` against `server` for `seconds`; returns the time [`NOMINAL_REQUESTS`] would
/// take at the rate `wrk` saw, and puts down the server's CPU time per request.
fn run_wrk(server: &HttpServer, cpu: &ServerCpu, seconds: u32) -> io::Result<Duration> {
    let before = server.cpu_time();
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .arg(format!("http://{}/", server.addr))
        .output()?;
    let after = server.cpu_time();
    let report = String::from_utf8_lossy(&output.stdout);
    check(
        output.status.success(),
        &format!(
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    )?;
    let WrkReport { requests, elapsed } = WrkReport::parse(&report)?;
    cpu.record(
        before.zip(after).map(|(b, a)| a.saturating_sub(b)),
        requests,
    );
    Ok(elapsed.mul_f64(NOMINAL_REQUESTS as f64 / requests as f64))
}

fn wrk_version() -> io::Result<()> {
    // `wrk --version` prints its banner and exits with 1: starting it is the test.
    Command::new("wrk").arg("--version").output().map(drop)
}

/// What one `wrk` run reported.
#[derive(Debug, PartialEq)]
struct WrkReport {
    requests: u64,
    elapsed: Duration,
}

impl WrkReport {
    /// Reads the `N requests in T` line, and fails on socket errors and non-2xx answers,
    /// so that a server that fails cannot look fast.
    fn parse(report: &str) -> io::Result<WrkReport> {
        let bad = |what: &str| io::Error::other(format!("{what} in wrk's report:\n{report}"));
        if report.contains("Socket errors") || report.contains("Non-2xx") {
            return Err(bad("errors"));
        }
        let line = report
            .lines()
            .find(|line| line.contains(" requests in "))
            .ok_or_else(|| bad("no request count"))?;
        let mut words = line.split_whitespace();
        let requests: u64 = words
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("no request count"))?;
        let elapsed = words
            .nth(2)
            .map(|t| t.trim_end_matches(','))
            .and_then(wrk_duration)
            .ok_or_else(|| bad("no duration"))?;
        if requests == 0 || elapsed.is_zero() {
            return Err(bad("no request answered"));
        }
        Ok(WrkReport { requests, elapsed })
    }
}

/// A duration as `wrk` prints it: `2.00s`, `1.00m`, `900.00ms`.
fn wrk_duration(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60.0)
    } else {
        return None;
    };
    let value: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(value * scale).ok()
}

/// The server's CPU time per request in each timed run of one contender.
struct ServerCpu {
    /// Runs still to skip: the warm-ups.
    skip: std::cell::Cell<u32>,
    /// Microseconds per request, one entry per timed run; `None` where the time could not
    /// be read.
    samples: std::cell::RefCell<Vec<Option<f64>>>,
}

impl ServerCpu {
    fn new(warmups: u32) -> ServerCpu {
        ServerCpu {
            skip: std::cell::Cell::new(warmups),
            samples: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn record(&self, spent: Option<Duration>, requests: u64) {
        if self.skip.get() > 0 {
            self.skip.set(self.skip.get() - 1);
            return;
        }
        let per_request = spent.map(|spent| spent.as_secs_f64() * 1e6 / requests.max(1) as f64);
        self.samples.borrow_mut().push(per_request);
    }

    /// The median, as a cell of its row; a contender whose throughput has no value has
    /// none here either.
    fn cell(&self, wall: &Cell) -> Cell {
        if !matches!(wall, Cell::Value(_)) {
            return wall.clone();
        }
        let samples = self.samples.borrow();
        let Some(mut values) = samples.iter().copied().collect::<Option<Vec<f64>>>() else {
            return Cell::Missing("the server's CPU time cannot be read here".into());
        };
        if values.is_empty() {
            return Cell::Missing("no timed run".into());
        }
        values.sort_by(f64::total_cmp);
        Cell::Value(values[values.len() / 2])
    }
}

/// A hyper server on a thread of its own, stopped and joined when dropped.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// The server thread's `/proc` CPU counter, where there is one.
    schedstat: Option<PathBuf>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

/// A server's accept loop: it must return once the stop flag is set and one more connection
/// arrives.
type Serve = fn(TcpListener, Arc<AtomicBool>) -> io::Result<()>;

impl HttpServer {
    /// Binds a listener on 127.0.0.1 and hands it to `serve` on a new thread.
    fn start(serve: Serve) -> io::Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, schedstat) = mpsc::channel();
        let thread = thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let _ = sender.send(this_thread_schedstat());
                serve(listener, stop)
            }
        });
        let schedstat = schedstat.recv().ok().flatten();
        Ok(HttpServer {
            addr,
            stop,
            schedstat,
            thread: Some(thread),
        })
    }

    /// CPU time the server thread has spent so far; `None` where it cannot be read.
    fn cpu_time(&self) -> Option<Duration> {
        // The first field of `schedstat` is nanoseconds on a CPU, user and kernel together.
        let text = std::fs::read_to_string(self.schedstat.as_ref()?).ok()?;
        Some(Duration::from_nanos(
            text.split_whitespace().next()?.parse().ok()?,
        ))
    }
}

/// The `/proc` file that counts the calling thread's CPU time (Linux's alone).
fn this_thread_schedstat() -> Option<PathBuf> {
    // `/proc/thread-self` links to `PID/task/TID`, which stays valid from other threads.
    let task = std::fs::read_link("/proc/thread-self").ok()?;
    Some(PathBuf::from("/proc").join(task).join("schedstat"))
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The connection wakes the accept loop, which then sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + STOP_GRACE;
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// Every server's service: `Hello, world!` for any request.
async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

fn serve_braid(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    serve_braid_with(listener, stop, BraidIo::new)
}

fn serve_braid_zeroing(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    serve_braid_with(listener, stop, ZeroingIo)
}

/// braid's accept loop, with `io` wrapping each connection for hyper.
fn serve_braid_with<I>(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    io: fn(braid_executor::net::TcpStream) -> I,
) -> io::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    braid_executor::run(async move {
        let listener = braid_executor::net::TcpListener::from_std(listener)?;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(BraidTimer);
        loop {
            let (stream, _) = listener.accept().await?;
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            stream.set_nodelay(true)?;
            let connection = builder.serve_connection(io(stream), service_fn(hello));
            braid_executor::spawn(async move {
                let _ = connection.await;
            })
            .detach();
        }
    })
}

fn serve_tokio(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new());
        loop {
            let (stream, _) = listener.accept().await?;
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            stream.set_nodelay(true)?;
            let connection = builder.serve_connection(TokioIo::new(stream), service_fn(hello));
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
        }
    })
}

/// hyper's I/O over a `futures::io` stream, as an adapter for any `AsyncRead` must do it:
/// `AsyncRead` takes initialised bytes, so hyper's buffer is zeroed before every read.
struct ZeroingIo<S>(S);

impl<S: futures::io::AsyncRead + Unpin> hyper::rt::Read for ZeroingIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: only initialised values are written into the slice, and it is read only
        // after they are.
        let unfilled = unsafe { buf.as_mut() };
        unfilled.fill(MaybeUninit::new(0));
        // SAFETY: every byte of `unfilled` was just initialised, and `MaybeUninit<u8>` has
        // the layout of `u8`.
        let bytes = unsafe { &mut *(unfilled as *mut [MaybeUninit<u8>] as *mut [u8]) };
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, bytes))?;
        // SAFETY: the first `n` bytes were zeroed, then written by the read.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<S: futures::io::AsyncWrite + Unpin> hyper::rt::Write for ZeroingIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Sends one request that asks the server to close, and returns the whole answer.
    fn get(addr: SocketAddr) -> String {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn every_server_answers_hello() {
        for serve in [serve_braid, serve_tokio, serve_braid_zeroing] {
            let server = HttpServer::start(serve).unwrap();
            let answer = get(server.addr);
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nHello, world!"), "{answer}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_server_thread_cpu_time_grows_while_it_serves() {
        let server = HttpServer::start(serve_braid).unwrap();
        let before = server.cpu_time().expect("readable on Linux");
        for _ in 0..20 {
            get(server.addr);
        }
        let after = server.cpu_time().expect("readable on Linux");
        assert!(after > before, "{before:?} then {after:?}");
    }

    #[test]
    fn a_wrk_report_gives_requests_and_time() {
        let report = "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 50 connections\n  \
                      Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   \
                      1.00ms  100.00us   2.00ms   90.00%\n  51234 requests in 1.00s, 4.35MB read\n\
                      Requests/sec:  51234.00\nTransfer/sec:      4.35MB\n";
        assert_eq!(
            WrkReport::parse(report).unwrap(),
            WrkReport {
                requests: 51234,
                elapsed: Duration::from_secs(1)
            }
        );
        assert_eq!(wrk_duration("1.50m"), Some(Duration::from_secs(90)));
        assert_eq!(wrk_duration("900.00ms"), Some(Duration::from_millis(900)));
    }

    #[test]
    fn a_wrk_report_with_errors_or_no_count_is_refused() {
        let errors = "  10 requests in 1.00s, 1KB read\n  Socket errors: connect 0, read 3, write 0, timeout 0\n";
        assert!(WrkReport::parse(errors).is_err());
        let non_2xx = "  10 requests in 1.00s, 1KB read\n  Non-2xx or 3xx responses: 10\n";
        assert!(WrkReport::parse(non_2xx).is_err());
        assert!(WrkReport::parse("wrk: connection refused\n").is_err());
        assert!(WrkReport::parse("  0 requests in 1.00s, 0B read\n").is_err());
    }

    #[test]
    fn server_cpu_skips_warm_ups_and_takes_the_median_per_request() {
        let cpu = ServerCpu::new(1);
        cpu.record(Some(Duration::from_secs(100)), 1); // a warm-up: skipped
        cpu.record(Some(Duration::from_millis(30)), 1_000);
        cpu.record(Some(Duration::from_millis(10)), 1_000);
        cpu.record(Some(Duration::from_millis(20)), 1_000);
        assert_eq!(cpu.cell(&Cell::Value(1.0)), Cell::Value(20.0));
        assert_eq!(cpu.cell(&Cell::NotApplicable), Cell::NotApplicable);
        let unreadable = ServerCpu::new(0);
        unreadable.record(None, 10);
        assert!(matches!(
            unreadable.cell(&Cell::Value(1.0)),
            Cell::Missing(_)
        ));
    }
}
