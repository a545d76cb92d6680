//! [`BraidIo`]: a braid stream socket as hyper's I/O.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use braid_executor::net::{TcpStream, UnixStream};
use futures::io::AsyncWrite;
use hyper::rt::{Read, ReadBufCursor, Write};

/// A braid stream socket, or a reference to one, that hyper can read and write.
///
/// Implemented for [`TcpStream`], [`UnixStream`] and shared references to them; it cannot be
/// implemented outside this crate.
pub trait Stream: AsyncWrite + Unpin + sealed::Sealed {
    /// Reads into memory that need not be initialised; `Ready(Ok(n))` means the first `n`
    /// bytes of `buf` now are.
    #[doc(hidden)]
    fn poll_recv_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! stream {
    ($($stream:ty => $socket:ty),*) => {$(
        impl sealed::Sealed for $stream {}

        impl Stream for $stream {
            fn poll_recv_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                <$socket>::poll_recv_uninit(self, cx, buf)
            }
        }
    )*};
}

stream!(
    TcpStream => TcpStream,
    &TcpStream => TcpStream,
    UnixStream => UnixStream,
    &UnixStream => UnixStream
);

/// A braid [`TcpStream`] or [`UnixStream`] (or a `&` to one) as hyper's
/// [`rt::Read`](hyper::rt::Read) and [`rt::Write`](hyper::rt::Write), to hand to hyper's
/// `serve_connection` and `handshake`.
///
/// Reads go straight into hyper's read buffer, which hyper does not zero: the socket fills
/// its spare capacity and only what it wrote counts. Writes go to the socket as they come,
/// vectored when hyper has a head and a body to send, so there is nothing to flush.
///
/// Like the stream inside, it works only on the event loop that made the stream.
///
/// # Examples
///
/// ```
/// use braid_executor::net::UnixStream;
/// use braid_hyper::BraidIo;
///
/// braid_executor::run(async {
///     let (a, _b) = UnixStream::pair()?;
///     let io = BraidIo::new(a);
///     let _peer = io.inner().peer_addr()?;
///     let _stream: UnixStream = io.into_inner();
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct BraidIo<S> {
    stream: S,
}

impl<S: Stream> BraidIo<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> BraidIo<S> {
        BraidIo { stream }
    }
}

impl<S> BraidIo<S> {
    /// The stream inside, for its addresses and socket options.
    pub fn inner(&self) -> &S {
        &self.stream
    }

    /// The stream inside, to use it without hyper again (after an upgrade, say).
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: Stream> Read for BraidIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `poll_recv_uninit` only writes into the slice (`recv` puts bytes there); it
        // never reads it and never de-initialises bytes that were initialised.
        let unfilled = unsafe { buf.as_mut() };
        let n = ready!(self.stream.poll_recv_uninit(cx, unfilled))?;
        // SAFETY: `poll_recv_uninit` said `recv` initialised the first `n` bytes of `unfilled`,
        // which are the first `n` unfilled bytes of `buf`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<S: Stream> Write for BraidIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every write went to the socket already.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Shuts the write side down: the peer reads end-of-file.
        Pin::new(&mut self.stream).poll_close(cx)
    }
}
