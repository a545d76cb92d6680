//! hyper's I/O traits seen as `futures`' [`AsyncRead`] and [`AsyncWrite`].

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use hyper::rt::{Read, ReadBuf, Write};

/// Makes anything hyper reads and writes (an [`Upgraded`](hyper::upgrade::Upgraded)
/// connection, above all) a `futures::io` [`AsyncRead`] + [`AsyncWrite`], the traits that
/// runtime-independent protocol crates such as async-tungstenite take.
///
/// The other way round, from a braid socket to hyper, is [`BraidIo`](crate::BraidIo).
/// `poll_close` shuts the write side down (for a TCP connection, a FIN to the peer).
///
/// # Examples
///
/// After a `101 Switching Protocols`, the server's connection speaks another protocol:
///
/// ```no_run
/// use braid_hyper::FuturesIo;
/// use futures::{AsyncReadExt, AsyncWriteExt};
///
/// async fn echo_once(request: hyper::Request<hyper::body::Incoming>) -> std::io::Result<()> {
///     let upgraded = hyper::upgrade::on(request)
///         .await
///         .map_err(std::io::Error::other)?;
///     let mut io = FuturesIo::new(upgraded);
///     let mut buf = [0; 64];
///     let n = io.read(&mut buf).await?;
///     io.write_all(&buf[..n]).await
/// }
/// ```
#[derive(Debug)]
pub struct FuturesIo<T> {
    inner: T,
}

impl<T> FuturesIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> FuturesIo<T> {
        FuturesIo { inner }
    }

    /// The I/O object inside.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The I/O object inside, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The I/O object inside, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Read + Unpin> AsyncRead for FuturesIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.inner).poll_read(cx, read_buf.unfilled()))?;
        Poll::Ready(Ok(read_buf.filled().len()))
    }
}

impl<T: Write + Unpin> AsyncWrite for FuturesIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
