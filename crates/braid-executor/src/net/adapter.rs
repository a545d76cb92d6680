//! What code adapting braid's sockets to other libraries needs: readiness without an
//! operation, one-shot attempts, peeking, owned halves, descriptors, the std types back,
//! TTL, and accepting through `poll_*`.
//!
//! These are extra `impl` blocks of the socket types, kept apart from the operations most
//! programs use.

use std::error::Error;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use super::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use crate::driver::Direction;

/// Implements `AsFd` and `AsRawFd` for socket types with a `source` field.
macro_rules! descriptor {
    ($($socket:ty),*) => {
        $(
            impl AsFd for $socket {
                fn as_fd(&self) -> BorrowedFd<'_> {
                    self.source.get_ref().as_fd()
                }
            }

            impl AsRawFd for $socket {
                fn as_raw_fd(&self) -> RawFd {
                    self.source.get_ref().as_raw_fd()
                }
            }
        )*
    };
}

descriptor!(TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream);

/// Implements `into_std` for socket types with a `source` field.
macro_rules! into_std {
    ($($socket:ty => $std:ty),*) => {
        $(
            impl $socket {
                /// Takes the socket out of its loop's poller and hands back the std socket,
                /// open and connected as it was. It stays non-blocking (as tokio's
                /// `into_std` leaves it): call `set_nonblocking(false)` before blocking
                /// calls. Any readiness the loop had seen is forgotten; the socket can be
                /// registered again with `from_std`, on this loop or another.
                ///
                /// # Panics
                ///
                /// Outside the running loop that made the socket, like its other
                /// operations.
                pub fn into_std(self) -> $std {
                    self.source.into_inner()
                }
            }
        )*
    };
}

into_std!(
    TcpListener => std::net::TcpListener,
    TcpStream => std::net::TcpStream,
    UdpSocket => std::net::UdpSocket,
    UnixListener => std::os::unix::net::UnixListener,
    UnixStream => std::os::unix::net::UnixStream
);

/// Implements readiness, one-shot attempts and `into_split` for the stream types.
macro_rules! stream_adapter {
    ($($stream:ident),*) => {
        $(
            impl $stream {
                /// Waits until the stream has something to read (or end-of-file, or an
                /// error), without reading it. Any number of tasks may wait at once; the next
                /// event wakes them all. Readiness is a hint: follow it with
                /// [`try_read`](Self::try_read), which may still say `WouldBlock`.
                ///
                /// # Errors
                ///
                /// None today; the `Result` leaves room for errors the poller may report.
                ///
                /// # Panics
                ///
                /// Outside the running loop that made the stream.
                pub async fn readable(&self) -> io::Result<()> {
                    self.source.ready(Direction::Read).await
                }

                /// Waits until the stream can take more bytes (or has failed), without
                /// writing. Any number of tasks may wait at once. Follow it with
                /// [`try_write`](Self::try_write).
                ///
                /// # Errors
                ///
                /// None today; the `Result` leaves room for errors the poller may report.
                ///
                /// # Panics
                ///
                /// Outside the running loop that made the stream.
                pub async fn writable(&self) -> io::Result<()> {
                    self.source.ready(Direction::Write).await
                }

                /// Reads what has arrived into `buf` in one attempt, without waiting;
                /// `Ok(0)` means the peer closed its side (or `buf` is empty).
                ///
                /// # Errors
                ///
                /// `WouldBlock` when nothing has arrived; it also clears the stream's
                /// readiness, so the next [`readable`](Self::readable) waits for more.
                /// Otherwise socket errors such as `ConnectionReset`.
                ///
                /// # Panics
                ///
                /// Outside the running loop that made the stream.
                pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                    self.source.try_io(Direction::Read, |io| { io }.read(buf))
                }

                /// Writes some of `buf` in one attempt, without waiting; returns how many
                /// bytes the socket took.
                ///
                /// # Errors
                ///
                /// `WouldBlock` when the socket's buffer is full; it also clears the
                /// stream's readiness, so the next [`writable`](Self::writable) waits for
                /// room. Otherwise `BrokenPipe` or `ConnectionReset` when the connection is
                /// closed.
                ///
                /// # Panics
                ///
                /// Outside the running loop that made the stream.
                pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                    self.source.try_io(Direction::Write, |io| { io }.write(buf))
                }

                /// Splits the stream into a read half and a write half that own it
                /// together, so that two tasks (or a library that wants `'static` halves)
                /// can read and write at once. [`OwnedReadHalf::reunite`] puts them back
                /// together. Both halves are `Send`, and both work only on the stream's
                /// loop.
                pub fn into_split(self) -> (OwnedReadHalf<$stream>, OwnedWriteHalf<$stream>) {
                    let stream = Arc::new(self);
                    (
                        OwnedReadHalf {
                            stream: stream.clone(),
                        },
                        OwnedWriteHalf { stream },
                    )
                }
            }
        )*
    };
}

stream_adapter!(TcpStream, UnixStream);

impl TcpStream {
    /// Waits until something has arrived and copies it into `buf` without taking it: the
    /// next read returns the same bytes. Returns how many were copied; `Ok(0)` means the
    /// peer closed its side (or `buf` is empty).
    ///
    /// # Errors
    ///
    /// Socket errors such as `ConnectionReset`.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the stream.
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
    ///     client.send_all(b"G").await?;
    ///     let mut first = [0; 1];
    ///     server.peek(&mut first).await?;
    ///     let mut again = [0; 1];
    ///     server.recv(&mut again).await?;
    ///     assert_eq!(first, again);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.io(Direction::Read, |io| io.peek(buf)).await
    }

    /// Sets the IP time-to-live of the packets this stream sends.
    ///
    /// # Errors
    ///
    /// What `setsockopt` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of the packets this stream sends.
    ///
    /// # Errors
    ///
    /// What `getsockopt` reports.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }
}

impl UdpSocket {
    /// Receives one datagram in one attempt, without waiting; returns its length and
    /// sender.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no datagram is waiting (it also clears the socket's readiness);
    /// otherwise what `recvfrom` reports.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the socket.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .try_io(Direction::Read, |socket| socket.recv_from(buf))
    }

    /// Sends one datagram to `target` in one attempt, without waiting. Takes a
    /// [`SocketAddr`]: nothing is looked up.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket's buffer is full (it also clears the socket's
    /// readiness); otherwise what `sendto` reports.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the socket.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.source
            .try_io(Direction::Write, |socket| socket.send_to(buf, target))
    }

    /// Waits for a datagram and copies it into `buf` without taking it: the next receive
    /// returns the same datagram. Returns its length (cut to `buf`) and sender.
    ///
    /// # Errors
    ///
    /// What `recvfrom` reports.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the socket.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .io(Direction::Read, |socket| socket.peek_from(buf))
            .await
    }

    /// Sets the IP time-to-live of the datagrams this socket sends.
    ///
    /// # Errors
    ///
    /// What `setsockopt` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of the datagrams this socket sends.
    ///
    /// # Errors
    ///
    /// What `getsockopt` reports.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }
}

impl TcpListener {
    /// Accepts the next connection, or registers `cx`'s waker to be woken when one comes:
    /// the poll form of [`accept`](TcpListener::accept), for code that implements a
    /// `Future` or `Stream` by hand. As with every `poll_*` method, only the last task to
    /// poll is woken.
    ///
    /// # Errors
    ///
    /// What `accept` reports, such as `EMFILE` when the process is out of descriptors.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the listener.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) =
            ready!(self
                .source
                .poll_io(Direction::Read, cx, std::net::TcpListener::accept))?;
        Poll::Ready(TcpStream::from_std(stream).map(|stream| (stream, addr)))
    }

    /// The connections as they come, as a `futures::Stream` that never ends; an error (such
    /// as running out of descriptors) is an item, and the stream goes on after it.
    ///
    /// Out of descriptors (`EMFILE`, `ENFILE`), the next item is the same error at once, for
    /// as long as the shortage lasts: a loop that only logs the error and asks again keeps
    /// its event loop busy and never lets the tasks that would close descriptors run. Pause
    /// after such an error (a short [`sleep`](crate::sleep)) before taking the next item.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::net::{TcpListener, TcpStream};
    /// use futures::StreamExt;
    ///
    /// braid_executor::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let _client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let mut incoming = listener.incoming();
    ///     let server = incoming.next().await.expect("never ends")?;
    ///     assert_eq!(server.local_addr()?, listener.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl UnixListener {
    /// Accepts the next connection, or registers `cx`'s waker to be woken when one comes:
    /// the poll form of [`accept`](UnixListener::accept). Only the last task to poll is
    /// woken.
    ///
    /// # Errors
    ///
    /// What `accept` reports.
    ///
    /// # Panics
    ///
    /// Outside the running loop that made the listener.
    pub fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(UnixStream, std::os::unix::net::SocketAddr)>> {
        let (stream, addr) = ready!(self.source.poll_io(
            Direction::Read,
            cx,
            std::os::unix::net::UnixListener::accept
        ))?;
        Poll::Ready(UnixStream::from_std(stream).map(|stream| (stream, addr)))
    }
}

/// The connections a [`TcpListener`] accepts, as a `futures::Stream`; from
/// [`TcpListener::incoming`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let accepted = ready!(self.listener.poll_accept(cx));
        Poll::Ready(Some(accepted.map(|(stream, _)| stream)))
    }
}

/// The read half of a [`TcpStream`] or [`UnixStream`], owning it together with its
/// [`OwnedWriteHalf`]; from `into_split`. Implements `futures::io::AsyncRead`; the
/// stream's own methods are reached through `as_ref`.
#[derive(Debug)]
pub struct OwnedReadHalf<S> {
    stream: Arc<S>,
}

/// The write half of a [`TcpStream`] or [`UnixStream`], owning it together with its
/// [`OwnedReadHalf`]; from `into_split`. Implements `futures::io::AsyncWrite`: closing it
/// shuts down the write direction, so the peer reads end-of-file. Dropping it does not;
/// the connection closes when both halves are gone.
#[derive(Debug)]
pub struct OwnedWriteHalf<S> {
    stream: Arc<S>,
}

impl<S> OwnedReadHalf<S> {
    /// Puts the stream back together from its two halves.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`], holding both halves, if `write` is the half of another stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::net::UnixStream;
    ///
    /// braid_executor::run(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let (read, write) = a.into_split();
    ///     let a = read.reunite(write).expect("halves of one stream");
    ///     a.send(b"whole again").await?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reunite(self, write: OwnedWriteHalf<S>) -> Result<S, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.stream, &write.stream) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        Ok(Arc::into_inner(self.stream).expect("only the two halves hold the stream"))
    }
}

impl<S> AsRef<S> for OwnedReadHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S> AsRef<S> for OwnedWriteHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S> AsyncRead for OwnedReadHalf<S>
where
    for<'a> &'a S: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read_vectored(cx, bufs)
    }
}

impl<S> AsyncWrite for OwnedWriteHalf<S>
where
    for<'a> &'a S: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    /// Shuts down the write direction (`Shutdown::Write`).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

/// [`OwnedReadHalf::reunite`] was given the halves of two different streams; here they are
/// back.
#[derive(Debug)]
pub struct ReuniteError<S>(pub OwnedReadHalf<S>, pub OwnedWriteHalf<S>);

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("these halves belong to two different streams and cannot be reunited")
    }
}

impl<S: fmt::Debug> Error for ReuniteError<S> {}
