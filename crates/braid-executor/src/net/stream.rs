//! What the stream sockets share: `AsyncRead` and `AsyncWrite`, and finishing a
//! non-blocking `connect`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use crate::driver::{Direction, Source};

/// Implements `AsyncRead` and `AsyncWrite` for a stream type and for references to it, given
/// its `source` field and how it shuts down its write side.
macro_rules! async_stream_io {
    ($stream:ty) => {
        async_stream_io!(@impl $stream);
        async_stream_io!(@impl &$stream);
    };
    (@impl $stream:ty) => {
        impl futures::io::AsyncRead for $stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_read_vectored(cx, bufs)
            }
        }

        impl futures::io::AsyncWrite for $stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }
    };
}

pub(crate) use async_stream_io;

/// Waits for a non-blocking `connect` to finish: writable, then no pending socket error.
pub(crate) async fn finish_connect<T: AsFd + Into<OwnedFd>>(
    source: &Source<T>,
    take_error: impl Fn(&T) -> io::Result<Option<io::Error>>,
    connected: impl Fn(&T) -> io::Result<()>,
) -> io::Result<()> {
    source
        .io(Direction::Write, |io| {
            if let Some(error) = take_error(io)? {
                return Err(error);
            }
            match connected(io) {
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                other => other,
            }
        })
        .await
}

/// Whether a `connect` error means "in progress": the usual answer of a non-blocking socket.
pub(crate) fn connect_in_progress(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINPROGRESS)
}
