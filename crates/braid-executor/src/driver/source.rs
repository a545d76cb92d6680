//! A descriptor registered with the running loop's poller: a socket, a pipe, a pidfd.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use super::reactor::{Direction, IoKey, WaiterKey};
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
    /// `direction` in between. For `poll_*` methods, which have nowhere to keep a place
    /// among the waiters: the last task to call it in `direction` is the one woken.
    pub(crate) fn poll_io<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_at(direction, None, cx, op)
    }

    fn poll_io_at<R>(
        &self,
        direction: Direction,
        mut place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.check_loop();
        loop {
            ready!(self
                .core
                .driver()
                .poll_ready(self.key, direction, place.as_deref_mut(), cx));
            match braid_sys::retry(|| op(&self.io)) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.core.driver().clear_ready(self.key, direction);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// [`poll_io`](Source::poll_io) as a future that keeps a place of its own among the
    /// waiters, so any number of tasks may wait in `direction` at once, each woken by
    /// the next event.
    pub(crate) async fn io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut waiter = Waiter::new(self, direction);
        poll_fn(|cx| self.poll_io_at(direction, Some(&mut waiter.place), cx, &mut op)).await
    }

    /// How many tasks wait on this descriptor in `direction`.
    #[cfg(test)]
    pub(super) fn waiting(&self, direction: Direction) -> usize {
        self.core.driver().waiting(self.key, direction)
    }
}

/// A future's place among the waiters of one direction of a [`Source`]; dropping it (the
/// operation ended, or its future was dropped mid-wait) gives the place up and drops the
/// waker stored there, so nothing of a cancelled waiter stays behind.
struct Waiter<'a, T: AsFd> {
    source: &'a Source<T>,
    direction: Direction,
    /// `None` until the first wait.
    place: Option<WaiterKey>,
}

impl<'a, T: AsFd> Waiter<'a, T> {
    fn new(source: &'a Source<T>, direction: Direction) -> Waiter<'a, T> {
        Waiter {
            source,
            direction,
            place: None,
        }
    }
}

impl<T: AsFd> Drop for Waiter<'_, T> {
    fn drop(&mut self) {
        if let Some(place) = self.place.take() {
            self.source
                .core
                .driver()
                .leave(self.source.key, self.direction, place);
        }
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
        self.poll_read_at(None, cx, buf)
    }

    fn poll_read_at(
        &self,
        place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        let result = ready!(self.poll_io_at(Direction::Read, place, cx, |io| { io }.read(buf)));
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
        self.poll_write_at(None, cx, buf)
    }

    fn poll_write_at(
        &self,
        place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = ready!(self.poll_io_at(Direction::Write, place, cx, |io| { io }.write(buf)));
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

    /// [`poll_read`](Source::poll_read) into memory nobody has initialised, so a caller that
    /// keeps a buffer of spare capacity need not zero it before each read. For sockets only:
    /// it reads with `recv`.
    pub(crate) fn poll_recv_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        let result = ready!(self.poll_io(Direction::Read, cx, |io| {
            socket2::SockRef::from(io).recv(buf)
        }));
        self.forget_if_short(Direction::Read, &result, asked);
        Poll::Ready(result)
    }

    /// [`poll_read`](Source::poll_read) as a future with a place of its own among the
    /// readers (see [`io`](Source::io)).
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut waiter = Waiter::new(self, Direction::Read);
        poll_fn(|cx| self.poll_read_at(Some(&mut waiter.place), cx, buf)).await
    }

    /// [`poll_write`](Source::poll_write) as a future with a place of its own among the
    /// writers (see [`io`](Source::io)).
    pub(crate) async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut waiter = Waiter::new(self, Direction::Write);
        poll_fn(|cx| self.poll_write_at(Some(&mut waiter.place), cx, buf)).await
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
