//! A descriptor registered with the running loop's poller: a socket, a pipe, a pidfd.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use super::reactor::{Direction, IoKey};
use crate::event_loop::context;
use crate::event_loop::core::Core;

/// A non-blocking descriptor registered, edge-triggered, for both directions.
///
/// Operations try the system call first and wait for an event only after it reported
/// `WouldBlock`, so edge-triggered events are never missed: readiness is only forgotten when
/// the descriptor itself said there is nothing more.
pub(crate) struct Source<T: AsFd> {
    io: T,
    core: Rc<Core>,
    key: IoKey,
}

impl<T: AsFd> Source<T> {
    /// Registers `io`, which must already be non-blocking, with the running loop.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    #[track_caller]
    pub(crate) fn new(io: T) -> io::Result<Source<T>> {
        let core = context::current_rc()
            .unwrap_or_else(|| context::no_loop("creating a braid_executor::net socket"));
        let key = core.driver().register(&core.poller, &io)?;
        Ok(Source { io, core, key })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Whether the loop this was registered with runs on this thread, for callers that
    /// panic with their own message before an operation would panic with the socket one.
    pub(crate) fn is_on_current_loop(&self) -> bool {
        context::is_current(&self.core.shared)
    }

    #[track_caller]
    fn check_loop(&self) {
        if !context::is_current(&self.core.shared) {
            panic!(
                "a braid_executor::net socket was used outside the running event loop that \
                 created it; sockets belong to one loop and work only while it runs"
            );
        }
    }

    /// Runs `op` until it does not report `WouldBlock`, waiting for readiness in
    /// `direction` in between.
    pub(crate) fn poll_io<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.check_loop();
        loop {
            ready!(self.core.driver().poll_ready(self.key, direction, cx));
            match braid_sys::retry(|| op(&self.io)) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.core.driver().clear_ready(self.key, direction);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// [`poll_io`](Source::poll_io) as a future.
    pub(crate) async fn io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(direction, cx, &mut op)).await
    }
}

/// Stream sockets: a read or write that moved less than asked for found the socket's buffer
/// empty (or full), so the next one would block; forget the readiness now and save that
/// system call. An edge-triggered event reports the next change.
impl<T: AsFd> Source<T>
where
    for<'a> &'a T: Read + Write,
{
    fn forget_if_short(&self, direction: Direction, result: &io::Result<usize>, asked: usize) {
        if let Ok(n) = result {
            if *n > 0 && *n < asked {
                self.core.driver().forget_ready(self.key, direction);
            }
        }
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        let result = ready!(self.poll_io(Direction::Read, cx, |io| { io }.read(buf)));
        self.forget_if_short(Direction::Read, &result, asked);
        Poll::Ready(result)
    }

    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let asked = bufs.iter().map(|buf| buf.len()).sum();
        let result = ready!(self.poll_io(Direction::Read, cx, |io| { io }.read_vectored(bufs)));
        self.forget_if_short(Direction::Read, &result, asked);
        Poll::Ready(result)
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = ready!(self.poll_io(Direction::Write, cx, |io| { io }.write(buf)));
        self.forget_if_short(Direction::Write, &result, buf.len());
        Poll::Ready(result)
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let asked = bufs.iter().map(|buf| buf.len()).sum();
        let result = ready!(self.poll_io(Direction::Write, cx, |io| { io }.write_vectored(bufs)));
        self.forget_if_short(Direction::Write, &result, asked);
        Poll::Ready(result)
    }
}

impl<T: AsFd> Drop for Source<T> {
    fn drop(&mut self) {
        // `io` closes right after this, once deregistered.
        self.core
            .driver()
            .deregister(&self.core.poller, &self.io, self.key);
    }
}
