//! Unix domain sockets: [`UnixListener`] and [`UnixStream`].

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::stream::async_stream_io;
use crate::driver::{Direction, Source};

/// A Unix domain socket that accepts connections (Python's `asyncio.start_unix_server`).
///
/// # Examples
///
/// ```
/// use braid_executor::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("braid-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("socket");
/// # let _ = std::fs::remove_file(&path);
/// braid_executor::run(async {
///     let listener = UnixListener::bind(&path).await?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.send(b"hi").await?;
///     let mut buf = [0; 2];
///     assert_eq!(server.recv(&mut buf).await?, 2);
///     std::io::Result::Ok(())
/// })?;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    pub(super) source: Source<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens. The socket file is not removed when the listener drops.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists, and what `bind` reports (a missing directory, no
    /// permission, a path too long).
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        UnixListener::from_std(listener)
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
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            source: Source::new(listener)?,
        })
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    ///
    /// What `accept` reports.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self
            .source
            .io(Direction::Read, std::os::unix::net::UnixListener::accept)
            .await?;
        Ok((UnixStream::from_std(stream)?, addr))
    }

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// What `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix domain stream connection. Works like [`TcpStream`](super::TcpStream).
///
/// # Examples
///
/// ```
/// use braid_executor::net::UnixStream;
/// use futures::{AsyncReadExt, AsyncWriteExt};
///
/// braid_executor::run(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"over").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"over");
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    pub(super) source: Source<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`. A Unix connect does not wait for the peer to
    /// accept; it fails at once if nothing listens there.
    ///
    /// # Errors
    ///
    /// `NotFound` for a missing path, `ConnectionRefused` when nothing listens there.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::from_std(std::os::unix::net::UnixStream::connect(path)?)
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// What `socketpair` reports.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
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
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            source: Source::new(stream)?,
        })
    }

    /// Reads what has arrived into `buf`; `Ok(0)` means the peer closed its side.
    ///
    /// # Errors
    ///
    /// Socket errors such as `ConnectionReset`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.read(buf).await
    }

    /// Reads what has arrived into `buf`, which need not be initialised, or registers
    /// `cx`'s waker to be woken when something arrives: the poll form of
    /// [`recv`](UnixStream::recv) for code that keeps its read buffer as spare capacity
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
    /// use braid_executor::net::UnixStream;
    ///
    /// braid_executor::run(async {
    ///     let (reader, writer) = UnixStream::pair()?;
    ///     assert_eq!(writer.send(b"hello").await?, 5);
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

    /// Writes some of `buf`; returns how many bytes the socket took.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when the peer is gone.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source.write(buf).await
    }

    /// The local address.
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
    /// What `getpeername` reports.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Shuts down the read side, the write side, or both.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }
}

async_stream_io!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
