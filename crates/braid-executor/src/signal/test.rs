use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::handler::{self, SIGNAL_LIMIT, WAKE_SLOT_LIMIT};
use super::registry;

/// A number no system delivers on its own and no other test uses: the handler is called
/// directly here, never through the operating system.
const UNDELIVERED: usize = 100;

/// Held by every test that takes a wake-up slot (directly or through a listener), so the
/// test that takes them all leaves no other without one.
static SLOTS: Mutex<()> = Mutex::new(());

fn slots() -> MutexGuard<'static, ()> {
    SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_all(reader: &UnixStream) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 16];
    loop {
        match { reader }.read(&mut buf) {
            Ok(n) => total += n,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return total,
            Err(error) => panic!("reading the wake-up socket failed: {error}"),
        }
    }
}

#[test]
fn validate_accepts_asynchronous_signals() {
    for signum in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGCHLD] {
        assert_eq!(registry::validate(signum).unwrap(), signum as usize);
    }
}

#[test]
fn validate_refuses_what_cannot_be_listened_for() {
    let refused = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        0,
        -1,
        i32::MIN,
        SIGNAL_LIMIT as i32,
        i32::MAX,
    ];
    for signum in refused {
        let error = registry::validate(signum).unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidInput,
            "signal {signum}"
        );
        assert!(
            error.to_string().contains(&signum.to_string()),
            "the message names the number: {error}"
        );
    }
}

#[test]
fn the_handler_counts_and_writes_only_to_interested_open_slots() {
    let _slots = slots();
    let (reader, writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    writer.set_nonblocking(true).unwrap();
    let slot = registry::take_wake_slot(writer.as_raw_fd()).unwrap();
    let before = handler::deliveries(UNDELIVERED);

    // Not interested yet: counted, but nobody woken.
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    handler::set_interest(slot, UNDELIVERED, true);
    handler::handle(UNDELIVERED as libc::c_int);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 2);

    // Another signal does not wake a loop interested only in this one.
    handler::handle((UNDELIVERED + 1) as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    handler::set_interest(slot, UNDELIVERED, false);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    // A slot given back is never written again, even with interest set.
    handler::set_interest(slot, UNDELIVERED, true);
    registry::give_back_wake_slot(slot);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    assert_eq!(handler::deliveries(UNDELIVERED) - before, 5);
}

#[test]
fn a_full_wake_up_socket_does_not_block_the_handler() {
    let _slots = slots();
    let (reader, writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    writer.set_nonblocking(true).unwrap();
    let slot = registry::take_wake_slot(writer.as_raw_fd()).unwrap();
    handler::set_interest(slot, UNDELIVERED + 2, true);
    // Far more than any socket buffer holds: each write past the limit fails with EAGAIN.
    for _ in 0..300_000 {
        handler::handle((UNDELIVERED + 2) as libc::c_int);
    }
    registry::give_back_wake_slot(slot);
    assert!(read_all(&reader) > 0);
}

#[test]
fn the_handler_keeps_errno() {
    let _slots = slots();
    // The handler's write to a socket whose peer is closed fails with EPIPE (the Rust
    // runtime ignores SIGPIPE), which must not leak into the interrupted code's errno.
    let (reader, writer) = UnixStream::pair().unwrap();
    writer.set_nonblocking(true).unwrap();
    drop(reader);
    let slot = registry::take_wake_slot(writer.as_raw_fd()).unwrap();
    handler::set_interest(slot, UNDELIVERED + 3, true);
    handler::errno::set(libc::ENOENT);
    handler::handle((UNDELIVERED + 3) as libc::c_int);
    let after = handler::errno::get();
    registry::give_back_wake_slot(slot);
    assert_eq!(after, libc::ENOENT);
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Two listeners for one signal and one for another, each already polled once (and
/// pending) with `waker`, which counts its wakes in `wakes`.
struct Waiting {
    first: super::Signal,
    second: super::Signal,
    other: super::Signal,
    wakes: Arc<CountingWaker>,
    waker: Waker,
}

/// [`Waiting`] listeners for `shared` and `other`; call on a running loop.
fn three_waiting(shared: libc::c_int, other: libc::c_int) -> Waiting {
    let wakes = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let mut waiting = Waiting {
        first: super::signal(shared).unwrap(),
        second: super::signal(shared).unwrap(),
        other: super::signal(other).unwrap(),
        waker: Waker::from(wakes.clone()),
        wakes,
    };
    let mut cx = Context::from_waker(&waiting.waker);
    for listener in [&mut waiting.first, &mut waiting.second, &mut waiting.other] {
        assert_eq!(listener.poll_recv(&mut cx), Poll::Pending);
    }
    waiting
}

#[test]
fn an_event_wakes_every_waiting_listener_once() {
    let _slots = slots();
    crate::run(async {
        // The other two stay alive, waiting, until the end.
        let Waiting {
            mut first,
            second: _second,
            other: _other,
            wakes,
            waker,
        } = three_waiting(libc::SIGPROF, libc::SIGXFSZ);
        let woken = || wakes.0.load(Ordering::SeqCst);
        let mut cx = Context::from_waker(&waker);
        let pipe = first.pipe.clone();

        // The reactor forgets the fan-out once it woke it, so nobody may stay asleep.
        pipe.fanout_wake_for_test();
        assert_eq!(woken(), 3);
        pipe.fanout_wake_for_test();
        assert_eq!(woken(), 3, "woken twice for one wait");

        assert_eq!(first.poll_recv(&mut cx), Poll::Pending);
        drop(first);
        pipe.fanout_wake_for_test();
        assert_eq!(
            woken(),
            3,
            "a dropped listener, or one not waiting, was woken"
        );
    });
}

#[test]
fn bytes_read_while_waiting_wake_only_the_listeners_whose_signal_came() {
    let _slots = slots();
    // The handler is called directly: the operating system never sends these two here.
    let (profile, file_size) = (libc::SIGPROF, libc::SIGXFSZ);
    crate::run(async move {
        let Waiting {
            mut first,
            mut second,
            mut other,
            wakes,
            waker,
        } = three_waiting(profile, file_size);
        let woken = || wakes.0.load(Ordering::SeqCst);
        let mut cx = Context::from_waker(&waker);
        let pipe = first.pipe.clone();

        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 0, "woken with nothing delivered");

        handler::handle(profile);
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(
            woken(),
            2,
            "both listeners of the delivered signal, not the other"
        );
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 2, "woken twice for one wait");

        handler::handle(file_size);
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 3, "the other listener still waited");

        assert_eq!(first.poll_recv(&mut cx), Poll::Ready(Some(())));
        assert_eq!(first.poll_recv(&mut cx), Poll::Pending);
        assert_eq!(second.poll_recv(&mut cx), Poll::Ready(Some(())));
        handler::handle(profile);
        handler::handle(profile);
        assert_eq!(second.poll_recv(&mut cx), Poll::Ready(Some(())));
        assert_eq!(
            second.poll_recv(&mut cx),
            Poll::Pending,
            "two deliveries coalesced"
        );
        assert_eq!(other.poll_recv(&mut cx), Poll::Ready(Some(())));
    });
}

#[test]
fn running_out_of_wake_up_slots_is_a_clear_error_and_slots_come_back() {
    let _slots = slots();
    let (_reader, writer) = UnixStream::pair().unwrap();
    let mut taken = Vec::new();
    let error = loop {
        match registry::take_wake_slot(writer.as_raw_fd()) {
            Ok(slot) => taken.push(slot),
            Err(error) => break error,
        }
    };
    assert_eq!(taken.len(), WAKE_SLOT_LIMIT);
    assert_eq!(error.kind(), std::io::ErrorKind::OutOfMemory);
    assert!(
        error.to_string().contains(&WAKE_SLOT_LIMIT.to_string()),
        "the message names the limit: {error}"
    );
    crate::run(async {
        // A loop that cannot get a slot refuses the listener, and keeps no half-made pipe.
        let refused = super::signal(libc::SIGWINCH).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::OutOfMemory);
        let last = taken.pop().unwrap();
        registry::give_back_wake_slot(last);
        drop(super::signal(libc::SIGWINCH).unwrap());
    });
    for slot in taken {
        registry::give_back_wake_slot(slot);
    }
}
