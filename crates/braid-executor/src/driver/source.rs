//! A descriptor registered with the running loop's poller: a socket, a pipe, a pidfd.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::fd::{AsFd, OwnedFd};
use std::ptr;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::reactor::{Direction, IoKey, WaiterKey};
use crate::event_loop::context;
use crate::event_loop::core::Core;
use crate::event_loop::Shared;

/// A non-blocking descriptor registered, edge-triggered, for both directions.
///
/// Operations try the system call first and wait for an event only after it reported
/// `WouldBlock`, so edge-triggered events are never missed: readiness is only forgotten when
/// the descriptor itself said there is nothing more.
///
/// A `Source` is `Send` and `Sync`, but it works only on the loop that registered it, while
/// that loop runs on its thread: every operation finds the loop through the thread's current
/// one and panics if that is another loop, or none. Dropped there, it deregisters at once;
/// dropped anywhere else, it hands its still-open descriptor to its loop, which deregisters
/// and closes it on its next turn (see `Shared::release`).
pub(crate) struct Source<T: AsFd + Into<OwnedFd>> {
    /// Taken out only by `drop`.
    io: ManuallyDrop<T>,
    /// Names the loop `key` belongs to, and reaches it from other threads.
    shared: Arc<Shared>,
    key: IoKey,
}

impl<T: AsFd + Into<OwnedFd>> Source<T> {
    /// Registers `io`, which must already be non-blocking, with the running loop.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    #[track_caller]
    pub(crate) fn new(io: T) -> io::Result<Source<T>> {
        context::with_current(|core| {
            let Some(core) = core else {
                context::no_loop("creating a braid_executor::net socket");
            };
            let key = core.driver().register(&core.poller, &io)?;
            Ok(Source {
                io: ManuallyDrop::new(io),
                shared: core.shared.clone(),
                key,
            })
        })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Whether the loop this was registered with runs on this thread, for callers that
    /// panic with their own message before an operation would panic with the socket one.
    pub(crate) fn is_on_current_loop(&self) -> bool {
        context::is_current(&self.shared)
    }

    /// Runs `f` with this source's loop, which must be the one running on this thread: one
    /// thread-local read and one pointer comparison.
    #[inline(always)]
    fn with_core<R>(&self, f: impl FnOnce(&Core) -> R) -> R {
        context::with_current(|core| match core {
            Some(core) if ptr::eq(Arc::as_ptr(&core.shared), Arc::as_ptr(&self.shared)) => f(core),
            _ => wrong_loop(),
        })
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
        self.with_core(|core| self.poll_io_on(core, direction, None, cx, op))
    }

    /// The loop of `poll_io`, given this source's loop. Inlined into each operation: a
    /// socket operation that finds its readiness pays no call but the system call.
    #[inline]
    fn poll_io_on<R>(
        &self,
        core: &Core,
        direction: Direction,
        mut place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            ready!(core
                .driver()
                .poll_ready(self.key, direction, place.as_deref_mut(), cx));
            match braid_sys::retry(|| op(&self.io)) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    core.driver().clear_ready(self.key, direction);
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
        poll_fn(|cx| {
            self.with_core(|core| {
                self.poll_io_on(core, direction, Some(&mut waiter.place), cx, &mut op)
            })
        })
        .await
    }

    /// One attempt of `op`, without waiting; a `WouldBlock` clears the readiness in
    /// `direction`, so that the next [`ready`](Source::ready) waits for an event.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.with_core(|core| {
            let result = braid_sys::retry(|| op(&self.io));
            if matches!(&result, Err(error) if error.kind() == io::ErrorKind::WouldBlock) {
                core.driver().clear_ready(self.key, direction);
            }
            result
        })
    }

    /// Waits until the descriptor may make progress in `direction`, keeping a place among
    /// the waiters as [`io`](Source::io) does. The readiness stays for the next operation.
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        self.io(direction, |_| Ok(())).await
    }

    /// Deregisters the descriptor and hands it back, still open and non-blocking.
    ///
    /// # Panics
    ///
    /// Outside the running loop that registered it, like any operation.
    pub(crate) fn into_inner(self) -> T {
        self.with_core(|core| {
            core.driver().deregister(&core.poller, &*self.io, self.key);
        });
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `io` is moved out here once and never used again.
        let io = unsafe { ManuallyDrop::take(&mut this.io) };
        // SAFETY: as above for `shared`: read out once, then dropped, and `this` is forgotten.
        drop(unsafe { ptr::read(&this.shared) });
        io
    }

    /// How many tasks wait on this descriptor in `direction`.
    #[cfg(test)]
    pub(super) fn waiting(&self, direction: Direction) -> usize {
        self.with_core(|core| core.driver().waiting(self.key, direction))
    }
}

#[cold]
#[inline(never)]
fn wrong_loop() -> ! {
    panic!(
        "a braid_executor::net socket was used outside the running event loop that \
         created it; sockets belong to one loop and work only on its thread while it runs"
    );
}

/// A future's place among the waiters of one direction of a [`Source`]; dropping it (the
/// operation ended, or its future was dropped mid-wait) gives the place up and drops the
/// waker stored there, so nothing of a cancelled waiter stays behind.
///
/// A future dropped off its loop (moved to another thread after it waited) cannot reach the
/// driver: its waker is woken by the next event of its direction (or dropped when the source
/// is deregistered), and its empty place stays taken until then. Only that misuse leaves
/// anything behind.
struct Waiter<'a, T: AsFd + Into<OwnedFd>> {
    source: &'a Source<T>,
    direction: Direction,
    /// `None` until the first wait.
    place: Option<WaiterKey>,
}

impl<'a, T: AsFd + Into<OwnedFd>> Waiter<'a, T> {
    fn new(source: &'a Source<T>, direction: Direction) -> Waiter<'a, T> {
        Waiter {
            source,
            direction,
            place: None,
        }
    }
}

impl<T: AsFd + Into<OwnedFd>> Drop for Waiter<'_, T> {
    fn drop(&mut self) {
        let Some(place) = self.place.take() else {
            return;
        };
        let source = self.source;
        context::with_current(|core| match core {
            Some(core) if ptr::eq(Arc::as_ptr(&core.shared), Arc::as_ptr(&source.shared)) => {
                core.driver().leave(source.key, self.direction, place);
            }
            // Off its loop: see the type's docs.
            _ => {}
        });
    }
}

/// Stream sockets: a read or write that moved less than asked for found the socket's buffer
/// empty (or full), so the next one would block; forget the readiness now and save that
/// system call. An edge-triggered event reports the next change.
impl<T: AsFd + Into<OwnedFd>> Source<T>
where
    for<'a> &'a T: Read + Write,
{
    /// Runs `op` as [`poll_io`](Source::poll_io) does, then forgets the readiness if it
    /// moved less than `asked`; one look-up of the loop for both.
    fn poll_stream_io(
        &self,
        direction: Direction,
        place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
        asked: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.with_core(|core| {
            let result = ready!(self.poll_io_on(core, direction, place, cx, op));
            if let Ok(n) = result {
                if n > 0 && n < asked {
                    core.driver().forget_ready(self.key, direction);
                }
            }
            Poll::Ready(result)
        })
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
        self.poll_stream_io(Direction::Read, place, cx, asked, |io| { io }.read(buf))
    }

    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let asked = bufs.iter().map(|buf| buf.len()).sum();
        self.poll_stream_io(Direction::Read, None, cx, asked, |io| {
            { io }.read_vectored(bufs)
        })
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
        let asked = buf.len();
        self.poll_stream_io(Direction::Write, place, cx, asked, |io| { io }.write(buf))
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let asked = bufs.iter().map(|buf| buf.len()).sum();
        self.poll_stream_io(Direction::Write, None, cx, asked, |io| {
            { io }.write_vectored(bufs)
        })
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
        self.poll_stream_io(Direction::Read, None, cx, asked, |io| {
            socket2::SockRef::from(io).recv(buf)
        })
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

impl<T: AsFd + Into<OwnedFd>> Drop for Source<T> {
    fn drop(&mut self) {
        let on_loop = context::with_current(|core| match core {
            Some(core) if ptr::eq(Arc::as_ptr(&core.shared), Arc::as_ptr(&self.shared)) => {
                core.driver().deregister(&core.poller, &*self.io, self.key);
                true
            }
            _ => false,
        });
        // SAFETY: `io` is not used again: this is the end of `drop`, and nothing else takes it.
        let io = unsafe { ManuallyDrop::take(&mut self.io) };
        if on_loop {
            // Out of the poller: it may close.
            drop(io);
        } else {
            // Still registered: its loop deregisters it before it closes (or closes it now if
            // the loop has ended).
            self.shared.release(self.key, io.into());
        }
    }
}
