//! The parent's ends of a child's standard streams: [`ChildStdin`], [`ChildStdout`] and
//! [`ChildStderr`].
//!
//! Each is the pipe std made, switched to non-blocking mode and registered with the loop like
//! a socket. Only the parent's end changes mode: the child's end is a separate open file, so
//! the child still sees ordinary blocking pipes.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use crate::driver::Source;

/// Registers the parent's end of a pipe with the running loop.
fn register(fd: OwnedFd) -> io::Result<Source<File>> {
    braid_sys::fd::set_nonblocking(fd.as_fd(), true)?;
    Source::new(File::from(fd))
}

/// A blocking copy of a registered pipe end, for another child to use as one of its
/// standard streams; the caller then drops the original, which leaves the loop's poller and
/// closes.
///
/// The copy shares the open file, and with it the non-blocking flag, which is cleared here:
/// programs expect their standard streams to block, and `cat` reading a non-blocking empty
/// pipe would fail with "Resource temporarily unavailable".
fn blocking_copy(file: &File) -> io::Result<OwnedFd> {
    let copy = file.as_fd().try_clone_to_owned()?;
    braid_sys::fd::set_nonblocking(copy.as_fd(), false)?;
    Ok(copy)
}

#[cold]
#[track_caller]
fn wrong_loop(what: &str) -> ! {
    panic!(
        "a braid_executor::process::{what} was used outside the running event loop that \
         spawned its child; child processes and their pipes belong to that loop and work \
         only while it runs"
    )
}

/// Writes to a child's standard input (the `stdin` of a [`Child`](super::Child) spawned with
/// `Stdio::piped()`); implements `futures::io::AsyncWrite`.
///
/// Closing it ([`AsyncWriteExt::close`](futures::io::AsyncWriteExt::close)) or dropping it
/// closes the pipe, so the child reads end-of-file. Writing after the child closed its end
/// fails with `BrokenPipe`.
pub struct ChildStdin {
    /// `None` once closed.
    source: Option<Source<File>>,
}

impl ChildStdin {
    pub(super) fn new(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            source: Some(register(OwnedFd::from(stdin))?),
        })
    }

    fn source(&self) -> io::Result<&Source<File>> {
        match &self.source {
            Some(source) => {
                if !source.is_on_current_loop() {
                    wrong_loop("ChildStdin");
                }
                Ok(source)
            }
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was already closed",
            )),
        }
    }
}

/// Passes the pipe on to another child, as its standard output or error, so that what that
/// child writes goes to this child's standard input (a shell's `a | b` with `b` started
/// first). The pipe leaves the loop and turns blocking again, as the other child expects.
///
/// # Errors
///
/// `BrokenPipe` if this end was already closed; otherwise what copying the descriptor
/// reports, typically running out of descriptors.
impl TryFrom<ChildStdin> for Stdio {
    type Error = io::Error;

    fn try_from(stdin: ChildStdin) -> io::Result<Stdio> {
        let Some(source) = &stdin.source else {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was already closed",
            ));
        };
        let copy = blocking_copy(source.get_ref())?;
        drop(stdin);
        Ok(Stdio::from(copy))
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.source()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.source()?.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads end-of-file. Closing again does nothing.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source = None;
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fd = self
            .source
            .as_ref()
            .map(|source| source.get_ref().as_raw_fd());
        f.debug_struct("ChildStdin").field("fd", &fd).finish()
    }
}

/// Defines a read end of a child's pipe.
macro_rules! read_pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        pub struct $name {
            source: Source<File>,
        }

        impl $name {
            pub(super) fn new(pipe: $std) -> io::Result<$name> {
                Ok($name {
                    source: register(OwnedFd::from(pipe))?,
                })
            }

            fn source(&self) -> &Source<File> {
                if !self.source.is_on_current_loop() {
                    wrong_loop(stringify!($name));
                }
                &self.source
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.source().poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.source().poll_read_vectored(cx, bufs)
            }
        }

        /// Passes the pipe on to another child, as its standard input: a shell's `a | b`.
        /// The pipe leaves the loop and turns blocking again, as the other child expects.
        ///
        /// # Errors
        ///
        /// What copying the descriptor reports, typically running out of descriptors.
        impl TryFrom<$name> for Stdio {
            type Error = io::Error;

            fn try_from(pipe: $name) -> io::Result<Stdio> {
                let copy = blocking_copy(pipe.source.get_ref())?;
                drop(pipe);
                Ok(Stdio::from(copy))
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.source.get_ref().as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.source.get_ref().as_raw_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

read_pipe!(
    /// Reads a child's standard output (the `stdout` of a [`Child`](super::Child) spawned
    /// with `Stdio::piped()`); implements `futures::io::AsyncRead`.
    ///
    /// Reading returns end-of-file (`Ok(0)`) once the child, and every process it passed the
    /// pipe on to, has closed it: usually when the child exits.
    ChildStdout,
    std::process::ChildStdout
);

read_pipe!(
    /// Reads a child's standard error (the `stderr` of a [`Child`](super::Child) spawned
    /// with `Stdio::piped()`); implements `futures::io::AsyncRead`. Works like
    /// [`ChildStdout`].
    ChildStderr,
    std::process::ChildStderr
);
