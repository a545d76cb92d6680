use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use braid_sys::signal::{handle_as_if_delivered, WakeTarget, WAKE_SLOT_LIMIT};

/// Held by every test that takes a wake-up slot (directly or through a listener), so the
/// test that takes them all leaves no other without one.
static SLOTS: Mutex<()> = Mutex::new(());

fn slots() -> MutexGuard<'static, ()> {
    SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
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
        let pipe = first.listener.pipe().clone();

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
        let pipe = first.listener.pipe().clone();

        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 0, "woken with nothing delivered");

        handle_as_if_delivered(profile);
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(
            woken(),
            2,
            "both listeners of the delivered signal, not the other"
        );
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 2, "woken twice for one wait");

        handle_as_if_delivered(file_size);
        pipe.fanout_wake_delivered_for_test();
        assert_eq!(woken(), 3, "the other listener still waited");

        assert_eq!(first.poll_recv(&mut cx), Poll::Ready(Some(())));
        assert_eq!(first.poll_recv(&mut cx), Poll::Pending);
        assert_eq!(second.poll_recv(&mut cx), Poll::Ready(Some(())));
        handle_as_if_delivered(profile);
        handle_as_if_delivered(profile);
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
fn a_loop_that_gets_no_wake_up_slot_refuses_the_listener_and_keeps_nothing() {
    let _slots = slots();
    let (_reader, writer) = UnixStream::pair().unwrap();
    let mut taken = Vec::new();
    let error = loop {
        let copy = writer.try_clone().expect("a descriptor for a wake-up slot");
        match WakeTarget::new(copy.into()) {
            Ok(target) => taken.push(target),
            Err(error) => break error,
        }
    };
    assert_eq!(taken.len(), WAKE_SLOT_LIMIT);
    assert_eq!(error.kind(), std::io::ErrorKind::OutOfMemory);
    crate::run(async {
        // A loop that cannot get a slot refuses the listener, and keeps no half-made pipe.
        let refused = super::signal(libc::SIGWINCH).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::OutOfMemory);
        assert!(
            refused.to_string().contains(&WAKE_SLOT_LIMIT.to_string()),
            "the message names the limit: {refused}"
        );
        taken.pop();
        drop(super::signal(libc::SIGWINCH).unwrap());
    });
}
