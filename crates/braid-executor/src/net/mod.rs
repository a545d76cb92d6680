//! Sockets driven by the event loop (Python's `asyncio` streams and transports).
//!
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`] and [`UnixStream`] wrap
//! non-blocking std sockets registered with the running loop's poller. Their operations are
//! `async fn`s; the streams also implement `futures::io::AsyncRead` and `AsyncWrite`.
//!
//! A socket belongs to the loop it was made in. It is `Send` and `Sync`, so it can live in a
//! `Send` future (one spawned through a [`Handle`](crate::Handle), or held by a library that
//! asks for `Send` I/O), but it is used only on its loop: any operation on another thread, in
//! another loop, or while its loop is not running panics, as does making one with no loop
//! running. Dropped on its loop, it leaves the poller at once; dropped anywhere else, it
//! hands its descriptor, still open, to its loop, which deregisters and closes it on its next
//! turn (or at once, if the loop has ended), so a descriptor number is never reused while the
//! poller still holds it. Errors are the system's
//! `io::Error`s: `ConnectionRefused`, `ConnectionReset`, `AddrInUse`, `BrokenPipe`; those
//! about an address name it in their message (`connection refused (os error 111):
//! 127.0.0.1:9`).
//!
//! # For adapters
//!
//! Code that fits these sockets to another library's I/O traits finds, on the stream types,
//! `readable` / `writable` (wait for readiness without an operation) and `try_read` /
//! `try_write` (one attempt, `WouldBlock` when not ready), `into_split` into
//! [`OwnedReadHalf`] and [`OwnedWriteHalf`]; `poll_accept` and
//! [`incoming`](TcpListener::incoming) on the listeners; `AsFd`, `AsRawFd` and `into_std`
//! on every socket.
//!
//! # Host names
//!
//! Every function that takes an address takes a host name too (see [`ToSocketAddrs`]). A
//! name is looked up on the loop's blocking pool, never on the loop thread, as asyncio's
//! `getaddrinfo` and tokio's `lookup_host` do; an IP literal or a `SocketAddr` is parsed
//! where it is used, with no thread hop. [`lookup_host`] gives the addresses themselves.
//!
//! # How readiness works
//!
//! Each socket is registered once, edge-triggered, for reading and writing, under a key
//! made of a slot index and a generation (so an event fetched for a socket that was closed
//! in the meantime, its descriptor number reused, wakes nobody). An operation first tries
//! the system call; only when that reports `WouldBlock` does the task wait for the next
//! event. A socket leaves the poller before its descriptor is closed.
//!
//! Any number of tasks may wait on one socket in the same direction through its `async fn`
//! methods (`accept`, `recv`, `recv_from`, `send`, ...): each such call keeps a place of
//! its own among the socket's waiters, the next event wakes them all, and each tries again,
//! so none sleeps while the socket can make progress. A call dropped mid-wait (a timeout,
//! a cancelled task) gives its place up and leaves nothing behind. The `AsyncRead` /
//! `AsyncWrite` methods have nowhere to keep such a place: as with tokio's `poll_*`
//! methods, the last task to poll a direction is the one woken, so share a stream among
//! several readers through `recv`, not `AsyncRead`.

mod adapter;
mod addr;
mod stream;
mod tcp;
mod udp;
mod unix;

use std::io;
use std::net::SocketAddr;

pub use adapter::{Incoming, OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub(crate) use addr::{about, resolve};
pub use addr::{lookup_host, ToSocketAddrs};
pub(crate) use tcp::bind_std;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

/// How many connections may wait to be accepted.
const LISTEN_BACKLOG: i32 = 1024;

/// Runs `f` on each of `addrs` until one succeeds; otherwise the last error, whose message
/// names the address it was about.
pub(crate) fn each_addr<T>(
    addrs: impl IntoIterator<Item = SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_error = None;
    for addr in addrs {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(addr::about(error, addr)),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "an empty list of addresses")
    }))
}
