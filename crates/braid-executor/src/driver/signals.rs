//! Signals as the loop sees them: one listener ([`SignalListener`]) per `signal()` call or
//! child watcher, and one wake-up socket pair per loop ([`LoopPipe`]) shared by all of that
//! loop's listeners. `crate::signal` is the public face; `crate::process` listens for
//! `SIGCHLD` here too, so neither depends on the other.
//!
//! One loop's wake-up socket pair, shared by all of that loop's signal listeners.
//!
//! The handler writes a byte to the write end; the read end is registered with the loop's
//! poller like any socket. The reactor keeps one waker per direction for `poll_io` callers
//! and knows nothing of signals, so the loop's listeners do not each put their own waker
//! there: the reactor holds the [`Fanout`] waker, which wakes every waiting listener; each
//! then checks its own signal's count.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use super::{Direction, Source};
use crate::event_loop::context;
use crate::event_loop::core::Core;
use braid_sys::signal::{self as sys_signal, WakeTarget, SIGNAL_LIMIT};

thread_local! {
    /// The pipes of the loops on this thread that have signal listeners. A pipe holds its
    /// loop alive, so a pipe that can still be upgraded belongs to the loop at that address.
    static PIPES: RefCell<Vec<Weak<LoopPipe>>> = const { RefCell::new(Vec::new()) };
}

pub(crate) struct LoopPipe {
    /// The write end, where the handler writes for the signals this loop listens for.
    ///
    /// Declared first so that it drops first: the handler must be done with the write end
    /// before the read end closes, or a write to a socket whose peer is gone raises
    /// `SIGPIPE`, fatal where that signal has its default action.
    wake: WakeTarget,
    /// The read end, registered with the loop.
    source: Source<UnixStream>,
    core: Rc<Core>,
    /// This loop's listeners of each signal: the handler writes to this pipe only for
    /// signals with at least one.
    listening: [Cell<u32>; SIGNAL_LIMIT],
    fanout: Arc<Fanout>,
    /// `fanout` as a waker, made once.
    fanout_waker: Waker,
}

/// One listener of one signal in the running loop: what `signal::Signal` and a child watcher
/// wait on.
pub(crate) struct SignalListener {
    /// The signal number, validated.
    index: usize,
    /// The delivery count last reported.
    seen: u64,
    /// This listener's waker slot in the loop's fan-out.
    waiter: usize,
    pipe: Rc<LoopPipe>,
    /// Keeps braid's handler installed for the signal.
    _subscription: sys_signal::Subscription,
}

impl SignalListener {
    /// Starts listening for `signum` in the running loop; `caller` names the public function
    /// for the panic when no loop runs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a number that cannot be listened for; rarely, running out of file
    /// descriptors for the loop's wake-up socket.
    #[track_caller]
    pub(crate) fn new(signum: i32, caller: &'static str) -> io::Result<SignalListener> {
        let index = sys_signal::validate(signum)?;
        let core = context::current_rc().unwrap_or_else(|| context::no_loop(caller));
        let pipe = LoopPipe::of(&core)?;
        let subscription = sys_signal::subscribe(signum)?;
        let waiter = pipe.listen(index);
        // Read after the handler was installed and told to wake this loop, so a delivery
        // that the count read here misses writes to this loop's pipe.
        let seen = sys_signal::deliveries(index);
        Ok(SignalListener {
            index,
            seen,
            waiter,
            pipe,
            _subscription: subscription,
        })
    }

    /// `Ready` if the signal came since the last `Ready`, otherwise `Pending`, waking `cx`'s
    /// task at the next delivery.
    ///
    /// # Panics
    ///
    /// If called outside the running loop that made this listener.
    #[track_caller]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.pipe.is_current() {
            panic!(
                "a braid_executor::signal::Signal was polled outside the running event loop \
                 that created it; a listener belongs to one loop and works only while it runs"
            );
        }
        if self.take_delivery() {
            return Poll::Ready(());
        }
        self.pipe.wait(self.waiter, self.index, self.seen, cx);
        // Checked again after the waker is in place: a delivery since the first check has
        // either raised the count already or will wake this task.
        if self.take_delivery() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// The signal number listened for.
    pub(crate) fn signum(&self) -> i32 {
        self.index as i32
    }

    /// The loop's pipe, for tests that drive its fan-out directly.
    #[cfg(test)]
    pub(crate) fn pipe(&self) -> &Rc<LoopPipe> {
        &self.pipe
    }

    fn take_delivery(&mut self) -> bool {
        let deliveries = sys_signal::deliveries(self.index);
        if deliveries == self.seen {
            return false;
        }
        self.seen = deliveries;
        true
    }
}

impl Drop for SignalListener {
    fn drop(&mut self) {
        self.pipe.unlisten(self.index, self.waiter);
        // `_subscription` drops after this: the handler stays until this loop stopped
        // listening.
    }
}

impl LoopPipe {
    /// The pipe of `core`'s loop, which runs on this thread; made on first use.
    pub(crate) fn of(core: &Rc<Core>) -> io::Result<Rc<LoopPipe>> {
        let existing = PIPES.try_with(|pipes| {
            let mut pipes = pipes.borrow_mut();
            pipes.retain(|pipe| pipe.strong_count() > 0);
            pipes
                .iter()
                .filter_map(Weak::upgrade)
                .find(|pipe| Rc::ptr_eq(&pipe.core, core))
        });
        if let Ok(Some(pipe)) = existing {
            return Ok(pipe);
        }
        let pipe = Rc::new(LoopPipe::open(core)?);
        // During thread teardown the cache is gone; the pipe then serves only its listener.
        let _ = PIPES.try_with(|pipes| pipes.borrow_mut().push(Rc::downgrade(&pipe)));
        Ok(pipe)
    }

    fn open(core: &Rc<Core>) -> io::Result<LoopPipe> {
        let (reader, writer) = braid_sys::fd::socket_pair()?;
        braid_sys::fd::set_nonblocking(reader.as_fd(), true)?;
        let source = Source::new(UnixStream::from(reader))?;
        let wake = WakeTarget::new(writer)?;
        let fanout = Arc::new(Fanout {
            waiters: Mutex::new(Waiters::default()),
        });
        Ok(LoopPipe {
            source,
            wake,
            core: core.clone(),
            listening: [const { Cell::new(0) }; SIGNAL_LIMIT],
            fanout_waker: Waker::from(fanout.clone()),
            fanout,
        })
    }

    /// Whether this pipe's loop runs on this thread now.
    pub(crate) fn is_current(&self) -> bool {
        context::is_current(&self.core.shared)
    }

    /// A listener of `signum` joins: returns its waiter slot.
    pub(crate) fn listen(&self, signum: usize) -> usize {
        let listening = &self.listening[signum];
        if listening.get() == 0 {
            self.wake.set_interest(signum, true);
        }
        listening.set(listening.get() + 1);
        self.fanout.waiters().insert()
    }

    /// The listener of `signum` with waiter slot `waiter` leaves.
    pub(crate) fn unlisten(&self, signum: usize, waiter: usize) {
        let listening = &self.listening[signum];
        listening.set(listening.get() - 1);
        if listening.get() == 0 {
            self.wake.set_interest(signum, false);
        }
        let waiting = self.fanout.waiters().remove(waiter);
        // Outside the lock, like every waker's drop.
        drop(waiting);
    }

    /// Makes sure the listener with slot `waiter`, which has seen `seen` deliveries of
    /// `signum`, is woken by the next one.
    ///
    /// Bytes read here may have been meant for other waiting listeners, whose wake-up event
    /// the poller will now never report (the socket is empty again), so reading any wakes
    /// those whose signal came.
    pub(crate) fn wait(&self, waiter: usize, signum: usize, seen: u64, cx: &mut Context<'_>) {
        let mut fanout_cx = Context::from_waker(&self.fanout_waker);
        let mut drained = false;
        let mut buf = [0u8; 64];
        // Reads until `WouldBlock`, which also leaves the fan-out waker with the reactor.
        let result = self
            .source
            .poll_io(Direction::Read, &mut fanout_cx, |mut reader| loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => drained = true,
                    Err(error) => return Err(error),
                }
            });
        if let Poll::Ready(Err(error)) = &result {
            tracing::error!("braid: reading the signal wake-up socket failed: {error}");
        }
        if result.is_ready() {
            // Not re-armed: let every listener try again rather than sleep unwatched.
            self.fanout.wake_waiting(Which::All);
        } else if drained {
            // Re-armed just now, so a listener whose signal has not come can stay asleep.
            self.fanout.wake_waiting(Which::Delivered);
        }
        let replaced = self
            .fanout
            .waiters()
            .store(waiter, signum, seen, cx.waker());
        // A waker's drop may run arbitrary code; none runs under the lock.
        drop(replaced);
    }

    /// Wakes the loop's waiting listeners as an event on the read end does.
    #[cfg(test)]
    pub(crate) fn fanout_wake_for_test(&self) {
        self.fanout.wake_by_ref();
    }

    /// Wakes the loop's waiting listeners as bytes read by [`wait`](LoopPipe::wait) do.
    #[cfg(test)]
    pub(crate) fn fanout_wake_delivered_for_test(&self) {
        self.fanout.wake_waiting(Which::Delivered);
    }
}

/// Wakes the waiting listeners of one loop.
///
/// As the reactor's waker it wakes them all. The reactor forgets a waker once it woke it,
/// so no listener may be left waiting then: only a listener's next `wait` arms the reactor
/// again, and a listener that was left asleep would make none.
struct Fanout {
    /// Touched only on the loop thread, but a `Waker` must be `Send + Sync`.
    waiters: Mutex<Waiters>,
}

/// A listener's last poll that found nothing.
struct Waiting {
    signum: usize,
    /// The delivery count that poll saw.
    seen: u64,
    waker: Waker,
}

impl Waiting {
    fn delivered(&self) -> bool {
        sys_signal::deliveries(self.signum) != self.seen
    }
}

#[derive(Default)]
struct Waiters {
    /// One slot per listener, holding it while it waits.
    waiting: Vec<Option<Waiting>>,
    free: Vec<usize>,
    /// Reused to wake outside the lock.
    spare: Vec<Waker>,
}

impl Fanout {
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        // Nothing under this lock panics halfway through an update.
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Waiters {
    fn insert(&mut self) -> usize {
        match self.free.pop() {
            Some(index) => index,
            None => {
                self.waiting.push(None);
                self.waiting.len() - 1
            }
        }
    }

    fn remove(&mut self, index: usize) -> Option<Waiting> {
        self.free.push(index);
        self.waiting[index].take()
    }

    /// Returns what it replaced, for the caller to drop outside the lock.
    fn store(&mut self, index: usize, signum: usize, seen: u64, waker: &Waker) -> Option<Waiting> {
        match &mut self.waiting[index] {
            Some(waiting) if waiting.waker.will_wake(waker) => {
                waiting.seen = seen;
                None
            }
            slot => slot.replace(Waiting {
                signum,
                seen,
                waker: waker.clone(),
            }),
        }
    }
}

/// Which waiting listeners to wake.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    All,
    /// Those whose signal's count moved since they looked. The handler raises a count
    /// before it writes the byte that leads here, so the others have nothing to see yet.
    Delivered,
}

impl Fanout {
    fn wake_waiting(&self, which: Which) {
        // A waker may run arbitrary code; none is called under the lock.
        let mut woken = {
            let mut waiters = self.waiters();
            let mut woken = std::mem::take(&mut waiters.spare);
            for slot in &mut waiters.waiting {
                let wake = match slot {
                    Some(waiting) => which == Which::All || waiting.delivered(),
                    None => false,
                };
                if wake {
                    woken.extend(slot.take().map(|waiting| waiting.waker));
                }
            }
            woken
        };
        for waker in woken.drain(..) {
            waker.wake();
        }
        self.waiters().spare = woken;
    }
}

impl Wake for Fanout {
    fn wake(self: Arc<Self>) {
        self.wake_waiting(Which::All);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_waiting(Which::All);
    }
}
