//! The worker side: [`init`] and the loop that serves tasks.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};

use crate::function::{self, ItemFailure, Trampoline};
use crate::protocol::{self, Cursor};
use braid_sys::{fd, process};

/// Set by the parent in an exec'd worker's environment: `task fd:result fd:parent pid`.
pub(crate) const WORKER_ENV: &str = "BRAID_PROCPOOL_WORKER";
/// Set by the parent in the fork server's environment: `control fd:parent pid`.
pub(crate) const FORK_SERVER_ENV: &str = "BRAID_PROCPOOL_FORK_SERVER";

/// Turns this process into a pool worker if it was started as one; returns at once otherwise.
///
/// Call it as the first line of `main`. The [`Spawn`](crate::StartMethod::Spawn) and
/// [`ForkServer`](crate::StartMethod::ForkServer) start methods run the program's own
/// executable again to make workers; in such a process `init` serves tasks and exits the
/// process when the pool lets it go, so the rest of `main` never runs there. It is the
/// counterpart of Python's `if __name__ == "__main__":` guard.
///
/// In the program's own process `init` only reads one environment variable.
///
/// # Examples
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(2)?;
///     assert_eq!(pool.submit(square, 7).join(), Ok(49));
///     Ok(())
/// }
/// ```
pub fn init() {
    if let Some(spec) = take_env(WORKER_ENV) {
        let Some([task, result, parent]) = parse_spec::<3>(&spec) else {
            eprintln!("braid-procpool: malformed {WORKER_ENV}; exiting");
            std::process::exit(101);
        };
        become_pool_child(parent as u32, &[task as RawFd, result as RawFd]);
        let code = serve(task as RawFd, result as RawFd);
        std::process::exit(code);
    }
    if let Some(spec) = take_env(FORK_SERVER_ENV) {
        let Some([control, parent]) = parse_spec::<2>(&spec) else {
            eprintln!("braid-procpool: malformed {FORK_SERVER_ENV}; exiting");
            std::process::exit(101);
        };
        crate::launch::fork_server::serve(control as RawFd, parent as u32);
    }
}

/// Whether this process was started as a worker but its `main` did not call [`init`] first.
pub(crate) fn started_without_init() -> bool {
    std::env::var_os(WORKER_ENV).is_some() || std::env::var_os(FORK_SERVER_ENV).is_some()
}

fn take_env(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    // Removed so that programs this worker starts are not mistaken for workers. `init` runs
    // first in `main`, before the program could have started a thread that reads the
    // environment.
    std::env::remove_var(name);
    Some(value)
}

fn parse_spec<const N: usize>(spec: &OsString) -> Option<[i64; N]> {
    let spec = spec.to_str()?;
    let mut out = [0i64; N];
    let mut parts = spec.split(':');
    for slot in &mut out {
        *slot = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Makes a freshly started worker or fork server a well-behaved child of the pool: it dies
/// with its parent and holds no descriptor but its standard streams and `keep`.
///
/// Runs while the process has a single thread (right after `exec` or `fork`).
pub(crate) fn become_pool_child(parent: u32, keep: &[RawFd]) {
    process::die_with_parent();
    if process::parent_id() != parent {
        // The parent died before the death signal was armed. `_exit`: the parent's exit
        // handlers are not this process's to run.
        process::exit_now(1);
    }
    fd::close_other_fds(keep);
    // Programs a task starts must not hold the pool's descriptors open.
    for &fd in keep {
        let _ = fd::set_cloexec(fd, true);
    }
}

/// Serves tasks until the task pipe closes; returns the process exit code.
pub(crate) fn serve(task: RawFd, result: RawFd) -> i32 {
    let mut reader = FrameReader::new(task);
    let mut out = Vec::with_capacity(4096);
    loop {
        let body = match reader.next_frame() {
            Ok(Some(body)) => body,
            Ok(None) => return 0,
            Err(_) => return 2,
        };
        let mut cursor = Cursor::new(body);
        let reply_ok = match cursor.u8() {
            Some(protocol::INIT) => match run_initializer(cursor.i64().unwrap_or(0)) {
                Ok(()) => {
                    let mut ready = Vec::with_capacity(12);
                    ready.extend_from_slice(&std::process::id().to_le_bytes());
                    ready.extend_from_slice(&function::build_fingerprint().to_le_bytes());
                    fd::write_all(result, &protocol::frame(protocol::READY, &ready)).is_ok()
                }
                Err(message) => {
                    let frame = protocol::frame(protocol::INIT_FAILED, message.as_bytes());
                    let _ = fd::write_all(result, &frame);
                    return 1;
                }
            },
            Some(protocol::TASK) => {
                run_task(cursor, &mut out);
                fd::write_all(result, &out).is_ok()
            }
            _ => return 2,
        };
        if !reply_ok {
            // The parent is gone.
            return 0;
        }
    }
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

/// Runs every item of a `TASK` body and leaves a complete `RESULTS` frame in `out`.
fn run_task(mut cursor: Cursor<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    out.push(protocol::RESULTS);
    let (Some(function), Some(trampoline), Some(count)) =
        (cursor.i64(), cursor.i64(), cursor.u32())
    else {
        out.extend_from_slice(&0u32.to_le_bytes());
        finish_frame(out);
        return;
    };
    out.extend_from_slice(&count.to_le_bytes());
    let f = function::address_of(function);
    // SAFETY: the parent sent the offset of a `Trampoline` instantiated for the types of `f`,
    // from this same executable.
    let trampoline =
        unsafe { std::mem::transmute::<usize, Trampoline>(function::address_of(trampoline)) };
    for _ in 0..count {
        let arg = cursor.bytes().unwrap_or(&[]);
        let status_at = out.len();
        out.push(protocol::ITEM_OK);
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        // SAFETY: `f` and `trampoline` were taken from one `FnRef`, made for the same `(A, R)`.
        let run = panic::catch_unwind(AssertUnwindSafe(|| unsafe { trampoline(f, arg, out) }));
        let (status, message) = match run {
            Ok(Ok(())) => (protocol::ITEM_OK, None),
            Ok(Err(ItemFailure::DecodeArgument(m))) => (protocol::ITEM_DECODE_ARGUMENT, Some(m)),
            Ok(Err(ItemFailure::EncodeResult(m))) => (protocol::ITEM_ENCODE_RESULT, Some(m)),
            Err(payload) => (
                protocol::ITEM_PANICKED,
                Some(panic_message(payload.as_ref())),
            ),
        };
        if let Some(message) = message {
            out.truncate(start);
            out.extend_from_slice(message.as_bytes());
        }
        out[status_at] = status;
        let len = (out.len() - start) as u32;
        out[status_at + 1..start].copy_from_slice(&len.to_le_bytes());
    }
    finish_frame(out);
    // Output a task printed without a newline would otherwise wait for the next task.
    let _ = std::io::stdout().flush();
}

fn finish_frame(out: &mut [u8]) {
    let body = (out.len() - 4) as u32;
    out[0..4].copy_from_slice(&body.to_le_bytes());
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic whose payload is not a string".to_owned()
    }
}

/// Reads whole frames from a blocking descriptor through one reusable buffer.
struct FrameReader {
    fd: RawFd,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameReader {
    fn new(fd: RawFd) -> FrameReader {
        FrameReader {
            fd,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// The next frame's body; `Ok(None)` at a clean end of file between frames.
    fn next_frame(&mut self) -> std::io::Result<Option<&[u8]>> {
        loop {
            match protocol::split_frame(&self.buf[self.start..self.end]) {
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
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end >= 4 {
                let need = 4 + u32::from_le_bytes(self.buf[0..4].try_into().unwrap()) as usize;
                if need > self.buf.len() {
                    self.buf.resize(need, 0);
                }
            }
            let n = fd::read(self.fd, &mut self.buf[self.end..])?;
            if n == 0 {
                return if self.end == 0 {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
            self.end += n;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn specs_parse_exactly() {
        assert_eq!(parse_spec::<3>(&"3:4:100".into()), Some([3, 4, 100]));
        assert_eq!(parse_spec::<3>(&"3:4".into()), None);
        assert_eq!(parse_spec::<2>(&"3:4:5".into()), None);
        assert_eq!(parse_spec::<2>(&"a:4".into()), None);
    }
}
