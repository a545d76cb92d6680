//! A readiness poller: braid's answer to Python's `selectors` module.
//!
//! A [`Poller`] watches many file descriptors at once and tells you which of them are
//! ready to read or write, so one thread can serve thousands of sockets without blocking on
//! any of them. It sits on epoll on Linux and Android and on kqueue on macOS, iOS and the BSDs,
//! and it has a cross-thread wake-up, [`Poller::notify`], that interrupts a blocked
//! [`Poller::wait`] from any thread.
//!
//! The tutorial chapter "Readiness and non-blocking sockets"
//! (`crates/braid/tutorial/02-readiness.md`, or `braid::tutorial` in the facade's docs) builds
//! on this crate step by step.
//!
//! # The shape of a poll loop
//!
//! 1. Put each descriptor in non-blocking mode and [`add`](Poller::add) it with a `key`
//!    of your choosing (an index into your own table of connections, say).
//! 2. Call [`wait`](Poller::wait): it blocks until something is ready and fills [`Events`].
//! 3. For each [`Event`], look up its [`key`](Event::key) and do the I/O, until the call
//!    would block (`io::ErrorKind::WouldBlock`).
//!
//! Here is an echo between the two ends of a socket pair, driven only by `wait`:
//!
//! ```
//! use braid_poller::{Events, Interest, Mode, Poller};
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! let (mut client, mut server) = UnixStream::pair()?;
//! client.set_nonblocking(true)?;
//! server.set_nonblocking(true)?;
//!
//! let poller = Poller::new()?;
//! const CLIENT: usize = 0;
//! const SERVER: usize = 1;
//! poller.add(&client, CLIENT, Interest::READABLE, Mode::Level)?;
//! poller.add(&server, SERVER, Interest::READABLE, Mode::Level)?;
//!
//! client.write_all(b"hello")?;
//!
//! let mut events = Events::new();
//! let mut echoed = Vec::new();
//! while echoed != b"hello" {
//!     poller.wait(&mut events, Some(Duration::from_secs(5)))?;
//!     for event in events.iter() {
//!         let mut buf = [0u8; 64];
//!         match event.key() {
//!             // The server echoes whatever it reads.
//!             SERVER => {
//!                 let n = server.read(&mut buf)?;
//!                 server.write_all(&buf[..n])?;
//!             }
//!             // The client collects the echo.
//!             CLIENT => {
//!                 let n = client.read(&mut buf)?;
//!                 echoed.extend_from_slice(&buf[..n]);
//!             }
//!             _ => unreachable!(),
//!         }
//!     }
//! }
//! assert_eq!(echoed, b"hello");
//!
//! // Always delete a descriptor before closing it.
//! poller.delete(&client)?;
//! poller.delete(&server)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Modes
//!
//! - [`Mode::Level`]: an event is reported on every `wait` while the descriptor is ready,
//!   like `select` and Python's `selectors`.
//! - [`Mode::Edge`]: an event is reported when the descriptor becomes ready again; after an
//!   event, read or write until `WouldBlock`, or you may never hear of it again.
//! - [`Mode::Oneshot`]: one event, then the descriptor is disarmed until you re-arm it with
//!   [`Poller::modify`]. This is what an event loop usually wants.
//!
//! Spurious events can happen in every mode: treat an event as a hint and let
//! `WouldBlock` have the last word.
//!
//! # Waking a poller from another thread
//!
//! ```
//! use braid_poller::{Events, Poller};
//! use std::sync::Arc;
//!
//! # fn main() -> std::io::Result<()> {
//! let poller = Arc::new(Poller::new()?);
//! let waker = Arc::clone(&poller);
//! let thread = std::thread::spawn(move || waker.notify());
//!
//! let mut events = Events::new();
//! // Returns once the notify lands; a notify carries no descriptor event.
//! let n = poller.wait(&mut events, None)?;
//! assert_eq!(n, 0);
//! assert!(events.is_notified());
//! thread.join().unwrap()?;
//! # Ok(())
//! # }
//! ```
//!
//! Notifies coalesce: ten notifies before a `wait` wake it once. None is ever lost: a notify
//! wakes the `wait` in progress or, if there is none, the next one.
//!
//! # Closing descriptors: delete first
//!
//! Always [`delete`](Poller::delete) a descriptor before closing it. The two backends
//! differ when you don't:
//!
//! - **epoll** registers the open file *description*, not the descriptor number. Closing a
//!   descriptor removes its registration only when it was the last descriptor for that
//!   description. If the descriptor was duplicated (`dup`, `fork`, `try_clone`), the
//!   registration lives on, keeps delivering events under the old key, and can no longer be
//!   deleted through the closed number.
//! - **kqueue** registers the descriptor number, and closing it removes the registration;
//!   duplicates never had one.
//!
//! After a `fork`, an epoll child shares its parent's epoll instance; a kqueue is not
//! inherited by the child at all. Create a new [`Poller`] in the child.
//!
//! # Platform differences
//!
//! - Registering a descriptor twice fails with `io::ErrorKind::AlreadyExists` on epoll; on
//!   kqueue the second `add` replaces the first registration.
//! - With kqueue, readable and writable readiness are separate filters: an event reports one
//!   of them, and [`Mode::Oneshot`] disarms only the filter that fired.
//! - Regular files are always ready: epoll refuses them with `io::ErrorKind::PermissionDenied`.
//!
//! # Tracing
//!
//! With the `tracing` feature, registrations and waits emit `tracing` events at `trace` level.
//!
//! # Layering
//!
//! braid-poller stands on `braid-sys`, which makes its system calls (`syscall!`, `EINTR`, the
//! pipe of the wake-up fallback); the epoll and kqueue backends are flat files here. The event
//! loop (`braid-executor`) and the process pool's supervisor and fork server
//! (`braid-procpool`) wait on it.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

/// Emits a `tracing` event at trace level when the `tracing` feature is on, and nothing
/// otherwise.
macro_rules! trace {
    ($($arg: tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::trace!($($arg)*);
    };
}

// Every backend module, bound to the name `sys` below, provides:
//
// - `type RawEvent`: the system's event record (`epoll_event`, `kevent`).
// - `fn is_notify(raw: &RawEvent) -> bool`: whether a record is the poller's own wake-up.
// - `fn event(raw: &RawEvent) -> Event`: the portable event of any other record.
// - `struct Selector` (`Send + Sync`) with:
//   - `fn new() -> io::Result<Selector>`: a new instance whose wake-up is already registered
//     under `NOTIFY_KEY`, with every descriptor close-on-exec;
//   - `fn add / modify(&self, fd: RawFd, key: usize, interest: Interest, mode: Mode)` and
//     `fn delete(&self, fd: RawFd)`, each `io::Result<()>`;
//   - `fn wait(&self, raw: &mut Vec<RawEvent>, timeout: Option<Duration>) -> io::Result<()>`:
//     one system call that fills `raw` up to its capacity; it may return early or fail with
//     `Interrupted`, and the caller, `Poller::wait`, retries;
//   - `fn notify(&self) -> io::Result<()>`: posts the wake-up record;
//   - `fn ack_notify(&self)`: called after a wait returned the wake-up record, to re-arm it.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
use epoll as sys;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
))]
mod kqueue;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
))]
use kqueue as sys;

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
)))]
compile_error!(
    "braid-poller supports Linux and Android (epoll) and macOS, iOS and the BSDs (kqueue)"
);

mod events;
mod interest;
mod poller;

pub use events::{Event, Events, Iter};
pub use interest::{Interest, Mode};
pub use poller::{Poller, NOTIFY_KEY};

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod test;
