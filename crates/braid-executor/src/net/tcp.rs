//! TCP: [`TcpListener`] and [`TcpStream`].

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::stream::{async_stream_io, connect_in_progress, finish_connect};
use super::{about, each_addr, resolve, ToSocketAddrs, LISTEN_BACKLOG};
use crate::driver::{Direction, Source};

/// A TCP socket that accepts connections (Python's `asyncio.start_server` socket).
///
/// # Examples
///
/// ```
/// use braid_executor::net::{TcpListener, TcpStream};
/// use futures::{AsyncReadExt, AsyncWriteExt};
///
/// braid_executor::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = braid_executor::spawn(async move {
///         let (mut stream, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         stream.read_exact(&mut buf).await?;
///         stream.write_all(&buf).await?;
///         std::io::Result::Ok(())
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     client.write_all(b"hello").await?;
///     let mut echo = [0; 5];
///     client.read_exact(&mut echo).await?;
///     assert_eq!(&echo, b"hello");
///     server.await??;
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    pub(super) source: Source<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens, trying each address it resolves to until one works.
    /// `SO_REUSEADDR` is set, so a port in `TIME_WAIT` can be bound again. A host name is
    /// looked up off the loop thread, as [`lookup_host`](super::lookup_host) does; an IP
    /// literal is used as it is.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if another socket listens there, `AddrNotAvailable` for an address that is
    /// not local, and what name resolution reports. The message names the address
    /// (`address in use (os error 98): 127.0.0.1:8080`).
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let listener = each_addr(resolve(&addr).await?, |addr| bind_std(addr, false))?;
        Ok(TcpListener {
            source: Source::new(listener)?,
        })
    }

    /// Takes over a listener made elsewhere, making it non-blocking.
    ///
    /// # Errors
    ///
    /// What registering it with the poller reports.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            source: Source::new(listener)?,
        })
    }

    /// Waits for the next connection.
    ///
    /// Any number of tasks may wait in `accept` on one listener (shared through an `Rc` or
    /// an `Arc`, say): each connection that comes wakes them all, each tries, and one gets it, so
    /// while connections are waiting no task sleeps. Dropping an `accept` future mid-wait
    /// takes nothing from the others.
    ///
    /// # Errors
    ///
    /// What `accept` reports, such as `EMFILE` when the process is out of descriptors.
    ///
    /// # Panics
    ///
    /// Outside the loop that made the listener.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self
            .source
            .io(Direction::Read, std::net::TcpListener::accept)
            .await?;
        Ok((TcpStream::from_std(stream)?, addr))
    }

    /// Waits for the next connection and returns it unregistered, in blocking mode, so that
    /// another loop can take it over with [`TcpStream::from_std`].
    pub(crate) async fn accept_std(&self) -> io::Result<(std::net::TcpStream, SocketAddr)> {
        self.source
            .io(Direction::Read, std::net::TcpListener::accept)
            .await
    }

    /// The address it listens on (with the port the system chose for port 0).
    ///
    /// # Errors
    ///
    /// What `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection (Python's `asyncio` stream transport).
///
/// Read and write with [`recv`](TcpStream::recv) and [`send`](TcpStream::send), or through
/// `futures::io::AsyncRead` / `AsyncWrite` (implemented for `TcpStream` and `&TcpStream`,
/// so one task can read while another writes). Any number of tasks may wait in `recv` or
/// `send` on one stream; through `AsyncRead` / `AsyncWrite`, only the last task to poll
/// each direction is woken (see the [module docs](super#how-readiness-works)).
///
/// A stream is `Send` and `Sync`, but it is used only on the loop that made it, while that
/// loop runs: anywhere else its operations panic. Dropped off its loop, it is closed by its
/// loop (see the [module docs](super)). Moving it into a `Send` task on its own loop is fine:
///
/// ```
/// use braid_executor::net::{TcpListener, TcpStream};
///
/// let event_loop = braid_executor::EventLoop::new()?;
/// let handle = event_loop.handle();
/// event_loop.block_on(async move {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     let greeter = handle.spawn(async move { server.send_all(b"hi").await }).unwrap();
///     greeter.await.unwrap()?;
///     let mut buf = [0; 2];
///     assert_eq!(client.recv(&mut buf).await?, 2);
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Reading after the peer closed its side returns `Ok(0)`; a peer that reset the connection
/// gives `ConnectionReset`; writing to a closed connection gives `BrokenPipe` or
/// `ConnectionReset`.
///
/// # Examples
///
/// ```
/// use braid_executor::net::{TcpListener, TcpStream};
///
/// braid_executor::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     client.set_nodelay(true)?;
///     client.send(b"ping").await?;
///     let mut buf = [0; 4];
///     let n = server.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    pub(super) source: Source<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to until one accepts. A host name
    /// (`"localhost:8080"`, `("example.org", 443)`) is looked up off the loop thread, as
    /// [`lookup_host`](super::lookup_host) does; an IP literal or a [`SocketAddr`] is used as
    /// it is, with no thread hop.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens there, `TimedOut` or `HostUnreachable` from
    /// the network, and what name resolution reports. With several addresses, the last
    /// one's error. The message names the address (`connection refused (os error 111):
    /// 127.0.0.1:9`); the system's own error is its [`source`](std::error::Error::source).
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match TcpStream::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last_error = Some(about(error, addr)),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "an empty list of addresses")
        }))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(error) if connect_in_progress(&error) => {}
            Err(error) => return Err(error),
        }
        let stream = TcpStream {
            source: Source::new(std::net::TcpStream::from(socket))?,
        };
        finish_connect(&stream.source, std::net::TcpStream::take_error, |io| {
            io.peer_addr().map(drop)
        })
        .await?;
        Ok(stream)
    }

    /// Takes over a connected stream made elsewhere, making it non-blocking.
    ///
    /// # Errors
    ///
    /// What registering it with the poller reports.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            source: Source::new(stream)?,
        })
    }

    /// Reads what has arrived into `buf`, waiting until something has; `Ok(0)` means the peer
    /// closed its side (or `buf` is empty).
    ///
    /// # Errors
    ///
    /// `ConnectionReset` when the peer reset the connection, and other socket errors.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.read(buf).await
    }

    /// Reads what has arrived into `buf`, which need not be initialised, or registers
    /// `cx`'s waker to be woken when something arrives: the poll form of
    /// [`recv`](TcpStream::recv) for code that keeps its read buffer as spare capacity
    /// (hyper's `rt::Read`, `Vec::spare_capacity_mut`), so no byte is zeroed only to be
    /// overwritten. `Ready(Ok(n))` means the first `n` bytes of `buf` are now initialised;
    /// `Ok(0)` means the peer closed its side (or `buf` is empty). As with
    /// `AsyncRead::poll_read`, only the last task to poll a direction is woken.
    ///
    /// # Errors
    ///
    /// Socket errors such as `ConnectionReset`.
    ///
    /// # Panics
    ///
    /// Outside the loop that made the stream.
    ///
    /// # Examples
    ///
    /// Reading into a `Vec`'s spare capacity:
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use braid_executor::net::{TcpListener, TcpStream};
    ///
    /// braid_executor::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let reader = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (writer, _) = listener.accept().await?;
    ///     writer.send_all(b"hello").await?;
    ///
    ///     let mut buf = Vec::with_capacity(64);
    ///     while buf.len() < 5 {
    ///         let n = poll_fn(|cx| reader.poll_recv_uninit(cx, buf.spare_capacity_mut())).await?;
    ///         // SAFETY: the read initialised the first `n` bytes of the spare capacity.
    ///         unsafe { buf.set_len(buf.len() + n) };
    ///     }
    ///     assert_eq!(buf, b"hello");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.source.poll_recv_uninit(cx, buf)
    }

    /// Writes some of `buf`, waiting until the socket takes at least one byte; returns how
    /// many it took.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` or `ConnectionReset` when the connection is closed.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source.write(buf).await
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`send`](TcpStream::send); some of `buf` may have been written.
    pub async fn send_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.send(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// What `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` once the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Turns Nagle's algorithm off (`true`) so small writes go out at once.
    ///
    /// # Errors
    ///
    /// What `setsockopt` reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    ///
    /// # Errors
    ///
    /// What `getsockopt` reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get_ref().nodelay()
    }

    /// Shuts down the read side, the write side (the peer then reads end-of-file), or both.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }
}

async_stream_io!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

/// A non-blocking listening socket bound to `addr` with `SO_REUSEADDR`, and with
/// `SO_REUSEPORT` when `reuse_port` is set (Linux only: elsewhere the kernel does not spread
/// connections over the sockets, so it is refused as `Unsupported`).
pub(crate) fn bind_std(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        set_reuse_port(&socket)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

#[cfg(target_os = "linux")]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(target_os = "linux"))]
fn set_reuse_port(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT spreads connections only on Linux",
    ))
}
