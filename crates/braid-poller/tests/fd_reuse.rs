//! Descriptor-number reuse, in a test binary of its own: tests running in parallel threads
//! of one process would take the freed number first.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use braid_poller::{Event, Events, Interest, Mode, Poller};

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn wait_keys(poller: &Poller, events: &mut Events) -> Vec<usize> {
    poller.wait(events, Some(Duration::from_secs(20))).unwrap();
    events.iter().map(|e: Event| e.key()).collect()
}

/// Without duplicates, closing a registered descriptor ends its registration, so a new
/// descriptor that reuses the number can be added under a new key and never reports the old.
#[test]
fn closed_before_delete_then_number_reused() {
    let poller = Poller::new().unwrap();
    let (a1, b1) = pair();
    poller
        .add(&b1, 21, Interest::READABLE, Mode::Level)
        .unwrap();
    let number = b1.as_raw_fd();
    drop(b1);
    // The lowest free number is the one just closed, so the new pair's first end gets it.
    let (reused, mut writer) = pair();
    drop(a1);
    assert_eq!(reused.as_raw_fd(), number, "the number was not reused");
    poller
        .add(&reused, 22, Interest::READABLE, Mode::Level)
        .unwrap();
    writer.write_all(b"new").unwrap();
    let mut events = Events::new();
    assert_eq!(wait_keys(&poller, &mut events), [22]);
}
