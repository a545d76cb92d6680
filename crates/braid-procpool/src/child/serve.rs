//! The worker's loop: read a task, run it, write its results, until the task pipe closes.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use braid_sys::fd;

use crate::protocol::function::{self, ItemFailure, Trampoline};
use crate::protocol::{self, FromWorker, ResultsFrame, TaskBody, ToWorker, WorkerSettings};

/// Held while a whole frame goes out on the results stream: a worker on a connection also
/// writes heartbeats there, from another thread, and frames must not interleave.
static WRITING: Mutex<()> = Mutex::new(());

/// The heartbeat interval the pool asked for in `INIT`, in milliseconds; 0 until then, and
/// for a worker on pipes.
pub(super) static HEARTBEAT_MS: AtomicU32 = AtomicU32::new(0);

/// Writes one whole frame to the results stream, never in the middle of another.
pub(super) fn write_frame(fd: RawFd, frame: &[u8]) -> io::Result<()> {
    // A panic never happens while the lock is held (a write does not panic), so a poisoned
    // lock still guards nothing broken.
    let _whole = WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    fd::write_all(fd, frame)
}

/// Serves tasks until the task pipe closes; returns the process exit code.
pub(super) fn serve(task: RawFd, result: RawFd) -> i32 {
    super::corrupt::set_results_fd(result);
    let mut reader = FrameReader::new(task);
    let mut out = Vec::with_capacity(4096);
    let mut frame_limit = protocol::MAX_FRAME;
    loop {
        let body = match reader.next_frame() {
            Ok(Some(body)) => body,
            Ok(None) => return 0,
            Err(_) => return 2,
        };
        let reply_ok = match ToWorker::decode(body) {
            Some(ToWorker::Init(settings)) => match begin(&settings) {
                Ok(()) => {
                    frame_limit = settings.frame_limit;
                    HEARTBEAT_MS.store(settings.heartbeat_ms, Ordering::Relaxed);
                    let ready = FromWorker::ready_frame(
                        std::process::id(),
                        function::build_fingerprint(),
                        &node_name(),
                    );
                    write_frame(result, &ready).is_ok()
                }
                Err(message) => {
                    let _ = write_frame(result, &FromWorker::init_failed_frame(&message));
                    return 1;
                }
            },
            Some(ToWorker::Task(task)) => {
                run_task(task, &mut out, frame_limit);
                let sent = write_frame(result, &out).is_ok();
                super::corrupt::after_results();
                sent
            }
            None => return 2,
        };
        if !reply_ok {
            // The parent is gone.
            return 0;
        }
    }
}

/// The name of the host this worker runs on, for the pool's reports: Slurm's name for its
/// node where Slurm started it, the system's host name otherwise.
fn node_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| braid_sys::process::host_name().ok())
        .unwrap_or_default()
}

/// Takes the worker's settings and runs its initializer; `Err` with the message of an
/// initializer that panicked.
fn begin(settings: &WorkerSettings) -> Result<(), String> {
    super::panic_hook::install(settings.panic_output);
    run_initializer(settings.initializer)
}

fn run_initializer(offset: i64) -> Result<(), String> {
    if offset == 0 {
        return Ok(());
    }
    // SAFETY: the parent sent the offset of a `fn()` of this same executable (checked with
    // the build fingerprint), so the address is that function.
    let f = unsafe { std::mem::transmute::<usize, fn()>(function::address_of(offset)) };
    panic::catch_unwind(f).map_err(|payload| panic_message(payload.as_ref()))
}

/// Runs every item of a `TASK` body and leaves a complete `RESULTS` frame in `out`, whose
/// body stays within `frame_limit`.
fn run_task(mut task: TaskBody<'_>, out: &mut Vec<u8>, frame_limit: usize) {
    let f = function::address_of(task.function);
    // SAFETY: the parent sent the offset of a `Trampoline` instantiated for the types of `f`,
    // from this same executable.
    let trampoline =
        unsafe { std::mem::transmute::<usize, Trampoline>(function::address_of(task.trampoline)) };
    let mut results = ResultsFrame::begin(out, task.ticket, task.items, frame_limit);
    for _ in 0..task.items {
        let arg = task.next_argument();
        results.item(|buf| {
            // SAFETY: `f` and `trampoline` were taken from one `FnRef`, made for the same
            // `(A, R)`.
            let run = panic::catch_unwind(AssertUnwindSafe(|| unsafe { trampoline(f, arg, buf) }));
            match run {
                Ok(Ok(type_name)) => Ok(type_name),
                Ok(Err(ItemFailure::DecodeArgument(m))) => Err((protocol::ITEM_DECODE_ARGUMENT, m)),
                Ok(Err(ItemFailure::EncodeResult(m))) => Err((protocol::ITEM_ENCODE_RESULT, m)),
                Err(payload) => Err((protocol::ITEM_PANICKED, panic_message(payload.as_ref()))),
            }
        });
    }
    results.finish();
    // Output a task printed without a newline would otherwise wait for the next task.
    let _ = std::io::stdout().flush();
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    braid_threadpool::panic_message(payload)
        .unwrap_or("a panic whose payload is not a string")
        .to_owned()
}

/// How long a worker out of tasks keeps looking for the next before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Reads whole frames from a blocking descriptor through one reusable buffer.
struct FrameReader {
    fd: RawFd,
    /// Bytes read and not yet taken: `buf[start..]`. Its spare capacity is where reads go,
    /// never zeroed: a new worker touches only the pages its first messages fill, not the
    /// whole buffer (each page a fault in a freshly forked process).
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    fn new(fd: RawFd) -> FrameReader {
        FrameReader {
            fd,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
        }
    }

    /// Waits for the next message. A burst of tasks usually has its next one on the way, so
    /// first, for up to [`SPIN`], it gives the processor to whoever is making it and looks
    /// again; only then does it sleep in `poll`. A sleep and a wake cost tens of
    /// microseconds on a busy machine, more than the short tasks a burst is made of.
    fn wait(&mut self) -> std::io::Result<()> {
        let spin_until = Instant::now() + SPIN;
        while Instant::now() < spin_until {
            std::thread::yield_now();
            if fd::unread_bytes(self.fd).is_some_and(|n| n > 0) {
                return Ok(());
            }
        }
        fd::wait_readable(self.fd)
    }

    /// The next frame's body; `Ok(None)` at a clean end of file between frames.
    fn next_frame(&mut self) -> std::io::Result<Option<&[u8]>> {
        loop {
            match protocol::split_frame(&self.buf[self.start..]) {
                Ok(Some((_, used))) => {
                    let body = self.start + 4..self.start + used;
                    self.start += used;
                    return Ok(Some(&self.buf[body]));
                }
                Ok(None) => {}
                Err(_) => return Err(std::io::ErrorKind::InvalidData.into()),
            }
            // Make room: move the partial frame to the front, and grow for a big one.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            if self.buf.len() >= 4 {
                let need = 4 + u32::from_le_bytes(self.buf[0..4].try_into().unwrap()) as usize;
                self.buf.reserve(need.saturating_sub(self.buf.len()));
            }
            // A packet pipe drops what does not fit of a packet: always leave room for one.
            self.buf.reserve(fd::PACKET_MAX);
            let n = match fd::read_to_spare(self.fd, &mut self.buf) {
                Ok(n) => n,
                // The parent shares this end of the pipe (it takes back jobs this worker has
                // not read yet), and keeps it non-blocking: wait for the next message here.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.wait()?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }
}
