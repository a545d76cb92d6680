//! UDP: [`UdpSocket`].

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::{about, each_addr, resolve, ToSocketAddrs};
use crate::driver::{Direction, Source};

/// A UDP socket (Python's `loop.create_datagram_endpoint` socket).
///
/// # Examples
///
/// ```
/// use braid_executor::net::UdpSocket;
///
/// braid_executor::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"datagram", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..n], b"datagram");
///     assert_eq!(from, a.local_addr()?);
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    pub(super) source: Source<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each address it resolves to until one works. A host name is
    /// looked up off the loop thread, as [`lookup_host`](super::lookup_host) does; an IP
    /// literal is used as it is.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if another socket is bound there, and what name resolution reports; the
    /// message names the address.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let socket = each_addr(resolve(&addr).await?, std::net::UdpSocket::bind)?;
        UdpSocket::from_std(socket)
    }

    /// Takes over a socket made elsewhere, making it non-blocking.
    ///
    /// # Errors
    ///
    /// What registering it with the poller reports.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            source: Source::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](UdpSocket::send) and keeps only its datagrams for
    /// [`recv`](UdpSocket::recv), trying each address `addr` resolves to until one works. A
    /// host name is looked up off the loop thread, as [`lookup_host`](super::lookup_host)
    /// does; an IP literal is used as it is.
    ///
    /// # Errors
    ///
    /// What `connect` reports, and what name resolution reports; the message names the
    /// address.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let socket = self.source.get_ref();
        each_addr(resolve(&addr).await?, |addr| socket.connect(addr))
    }

    /// Sends one datagram to `target` (the first address it resolves to); returns how many
    /// bytes went out. A host name is looked up off the loop thread, as
    /// [`lookup_host`](super::lookup_host) does, for every datagram: look it up once with
    /// `lookup_host` to send many. An IP literal or a [`SocketAddr`] is used as it is.
    ///
    /// # Errors
    ///
    /// What `sendto` reports, such as `InvalidInput` for an address of the wrong family, and
    /// what name resolution reports; the message names the address.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(&target).await?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "an empty list of addresses")
        })?;
        self.source
            .io(Direction::Write, |socket| socket.send_to(buf, target))
            .await
            .map_err(|error| about(error, target))
    }

    /// Waits for one datagram; returns its length and sender. A datagram longer than `buf`
    /// is cut short.
    ///
    /// Any number of tasks may wait in `recv_from` (or `recv`) on one socket: each gets its
    /// own datagram, and none sleeps while datagrams are waiting. Dropping the future
    /// mid-wait takes nothing from the others.
    ///
    /// # Errors
    ///
    /// What `recvfrom` reports.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .io(Direction::Read, |socket| socket.recv_from(buf))
            .await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](UdpSocket::connect); `ConnectionRefused` when an
    /// earlier datagram was refused.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Write, |socket| socket.send(buf))
            .await
    }

    /// Waits for one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when an earlier datagram to the peer was refused.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Read, |socket| socket.recv(buf))
            .await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// What `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
