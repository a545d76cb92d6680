//! braid's floor: every raw system call the other braid crates make goes through here.
//!
//! ```text
//! braid, braid-macros   the facade: features, prelude, #[braid::main], the tutorial
//! braid-procpool        -> braid-threadpool, braid-poller, braid-sys
//! braid-executor        -> braid-threadpool, braid-poller, braid-sys
//! braid-threadpool      -> std, crossbeam; braid-sys on Linux (sleeping workers' CPUs)
//! braid-poller          -> braid-sys
//! braid-sys             -> libc                      <- this crate
//! ```
//!
//! The crates above do not call `libc` for descriptors, pipes, processes or signals
//! themselves, and none of them handles `EINTR`: a bug in one of those calls is fixed here,
//! once. The pieces:
//!
//! - [`syscall!`] turns a libc call's `-1` into the thread's `errno` as an [`io::Error`]. It
//!   does not hide `unsafe`: the caller writes the `unsafe` block and its `// SAFETY:` line,
//!   so clippy's `undocumented_unsafe_blocks` checks every call site.
//! - [`retry`] runs a call again while a signal interrupts it; [`interrupted_is_spurious`]
//!   turns an interrupted wait into an early return for callers that recompute a timeout.
//! - [`fd`]: close-on-exec pipes and socket pairs, non-blocking mode, reads and writes, and
//!   the sweep that closes every inherited descriptor in a fresh child.
//! - [`process`]: waiting for a child without reaping anyone else's, pidfds, signals to a
//!   process, a typed [`ExitStatus`](process::ExitStatus) and its wire form.
//! - [`signal`]: one async-signal-safe handler that counts deliveries and writes a byte to
//!   every registered wake-up descriptor (the self-pipe trick), saving and restoring `errno`.
//! - [`time`]: the cheap monotonic clock the event loop reads on every turn.
//! - `cpu` (Linux): the CPUs a thread may run on, and narrowing them to one or a list.
//! - [`image`]: which loaded image, the executable or a shared library, holds a code
//!   address (`dladdr`).
//!
//! Only Unix is supported: Linux and Android, macOS and iOS, and the BSDs.
//!
//! # Example
//!
//! ```
//! use std::os::fd::AsRawFd;
//!
//! let (read, write) = braid_sys::fd::pipe()?;
//! braid_sys::fd::write_all(write.as_raw_fd(), b"hi")?;
//! let mut buf = [0u8; 2];
//! assert_eq!(braid_sys::fd::read(read.as_raw_fd(), &mut buf)?, 2);
//! assert_eq!(&buf, b"hi");
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::io;

#[doc(hidden)]
pub use libc;

/// Calls the libc function `name(args..)` and turns a `-1` result into the thread's `errno`
/// as an [`io::Error`]; any other result is returned as `Ok`.
///
/// The call is not wrapped in `unsafe`: write the block around the macro, with a
/// `// SAFETY:` line that says why the arguments meet the function's contract.
///
/// ```
/// use braid_sys::syscall;
///
/// // SAFETY: getpid has no preconditions.
/// let pid = unsafe { syscall!(getpid()) }?;
/// assert_eq!(pid as u32, std::process::id());
/// # Ok::<(), std::io::Error>(())
/// ```
#[macro_export]
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)? )) => {{
        let res = $crate::libc::$fn($($arg),*);
        if res == -1 {
            ::std::result::Result::Err(::std::io::Error::last_os_error())
        } else {
            ::std::result::Result::Ok(res)
        }
    }};
}

/// Runs `call` again for as long as a signal interrupts it (`EINTR`, PEP 475's rule).
///
/// # Errors
///
/// The first error of `call` that is not [`io::ErrorKind::Interrupted`].
#[inline]
pub fn retry<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// Reads an interrupted wait as one that returned early with nothing to report, for a
/// caller that loops and recomputes its remaining timeout (a bare [`retry`] would restart
/// the full timeout).
///
/// # Errors
///
/// `result`'s error, unless it is [`io::ErrorKind::Interrupted`].
#[inline]
pub fn interrupted_is_spurious(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        other => other,
    }
}

#[cfg(target_os = "linux")]
pub mod cpu;
pub mod fd;
pub mod image;
pub mod net;
pub mod process;
pub mod signal;
pub mod time;

#[cfg(not(unix))]
compile_error!("braid-sys supports Unix systems only: Linux, Android, macOS, iOS and the BSDs");
