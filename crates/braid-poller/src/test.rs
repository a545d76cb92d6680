//! Tests of the epoll backend's pipe wake-up, which a kernel with eventfd never uses.

use std::sync::Arc;
use std::thread;

use crate::epoll::Selector;
use crate::{Events, Interest, Mode, Poller};

#[test]
fn pipe_wake_up_wakes_and_rearms() {
    let poller = Arc::new(Poller::from_selector(Selector::with_pipe_wake().unwrap()));
    let mut events = Events::new();
    for _ in 0..1000 {
        let waker = Arc::clone(&poller);
        let t = thread::spawn(move || waker.notify().unwrap());
        poller.wait(&mut events, None).unwrap();
        assert!(events.is_notified());
        t.join().unwrap();
    }
    // Drained: nothing left for the next wait.
    let n = poller
        .wait(&mut events, Some(std::time::Duration::from_millis(10)))
        .unwrap();
    assert_eq!(n, 0);
    assert!(!events.is_notified());
}

#[test]
fn pipe_wake_up_coexists_with_descriptor_events() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    let poller = Poller::from_selector(Selector::with_pipe_wake().unwrap());
    let (mut a, b) = UnixStream::pair().unwrap();
    poller.add(&b, 7, Interest::READABLE, Mode::Level).unwrap();
    a.write_all(b"x").unwrap();
    poller.notify().unwrap();
    let mut events = Events::new();
    let n = poller.wait(&mut events, None).unwrap();
    assert_eq!(n, 1);
    assert_eq!(events.iter().next().unwrap().key(), 7);
    assert!(events.is_notified());
}
