//! The driver with a running loop: many tasks waiting on one descriptor.

use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::time::Duration;

use super::{Direction, Source};
use crate::{spawn, timeout, yield_now, EventLoop};

/// A datagram socket pair, the receiving end registered with the running loop.
fn pair() -> (Rc<Source<UnixDatagram>>, UnixDatagram) {
    let (receiver, sender) = UnixDatagram::pair().unwrap();
    receiver.set_nonblocking(true).unwrap();
    (Rc::new(Source::new(receiver).unwrap()), sender)
}

#[test]
fn dropped_waiters_leave_no_waker_and_the_live_ones_all_complete() {
    let event_loop = EventLoop::new().unwrap();
    // A hang guard, not a timing assertion.
    let guarded = timeout(Duration::from_secs(60), async {
        let (source, sender) = pair();
        let receive = |source: Rc<Source<UnixDatagram>>| async move {
            let mut buf = [0u8; 8];
            source.io(Direction::Read, |io| io.recv(&mut buf)).await
        };
        let live: Vec<_> = (0..5).map(|_| spawn(receive(source.clone()))).collect();
        let timed_out: Vec<_> = (0..5)
            .map(|_| spawn(timeout(Duration::from_millis(1), receive(source.clone()))))
            .collect();
        let cancelled: Vec<_> = (0..5).map(|_| spawn(receive(source.clone()))).collect();
        for _ in 0..3 {
            yield_now().await;
        }
        assert_eq!(source.waiting(Direction::Read), 15);

        for task in &cancelled {
            assert!(task.cancel());
        }
        for task in timed_out {
            assert!(task.await.unwrap().is_err(), "nothing was sent yet");
        }
        for task in cancelled {
            assert!(task.await.is_err());
        }
        assert_eq!(
            source.waiting(Direction::Read),
            5,
            "a dropped waiter left its waker behind"
        );

        for _ in 0..5 {
            sender.send(b"x").unwrap();
        }
        for task in live {
            assert_eq!(task.await.unwrap().unwrap(), 1);
        }
        assert_eq!(source.waiting(Direction::Read), 0);
    });
    event_loop
        .block_on(guarded)
        .expect("the waiters hung for more than 60 s");
}
