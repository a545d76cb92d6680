//! Sockets driven by the event loop (Python's `asyncio` streams and transports).
//!
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`] and [`UnixStream`] wrap
//! non-blocking std sockets registered with the running loop's poller. Their operations are
//! `async fn`s; the streams also implement `futures::io::AsyncRead` and `AsyncWrite`.
//!
//! A socket belongs to the loop it was made in: it is not `Send`, and using it outside that
//! running loop panics, as does making one with no loop running. Errors are the system's
//! `io::Error`s: `ConnectionRefused`, `ConnectionReset`, `AddrInUse`, `BrokenPipe`.
//!
//! # How readiness works
//!
//! Each socket is registered once, edge-triggered, for reading and writing, under a key
//! made of a slot index and a generation (so an event fetched for a socket that was closed
//! in the meantime, its descriptor number reused, wakes nobody). An operation first tries
//! the system call; only when that reports `WouldBlock` does the task wait for the next
//! event. Dropping a socket removes it from the poller before its descriptor is closed.
//!
//! Any number of tasks may wait on one socket in the same direction through its `async fn`
//! methods (`accept`, `recv`, `recv_from`, `send`, ...): each such call keeps a place of
//! its own among the socket's waiters, the next event wakes them all, and each tries again,
//! so none sleeps while the socket can make progress. A call dropped mid-wait (a timeout,
//! a cancelled task) gives its place up and leaves nothing behind. The `AsyncRead` /
//! `AsyncWrite` methods have nowhere to keep such a place: as with tokio's `poll_*`
//! methods, the last task to poll a direction is the one woken, so share a stream among
//! several readers through `recv`, not `AsyncRead`.

mod stream;
mod tcp;
mod udp;
mod unix;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub(crate) use tcp::bind_std;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

/// How many connections may wait to be accepted.
const LISTEN_BACKLOG: i32 = 1024;

/// Runs `f` on each address `addr` resolves to until one succeeds; the last error otherwise.
pub(crate) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}
