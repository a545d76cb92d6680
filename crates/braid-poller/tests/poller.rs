//! The behaviour braid-poller promises, one test each.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use braid_poller::{Event, Events, Interest, Mode, Poller, NOTIFY_KEY};

/// Long enough that a missing event would have arrived; it only slows the passing case.
const QUIET: Duration = Duration::from_millis(50);
/// A hang guard: waits that must see an event give up after this, failing the test.
const GUARD: Duration = Duration::from_secs(20);

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn wait(poller: &Poller, events: &mut Events, timeout: Duration) -> Vec<Event> {
    poller.wait(events, Some(timeout)).unwrap();
    events.iter().collect()
}

fn keys(events: &[Event]) -> Vec<usize> {
    events.iter().map(Event::key).collect()
}

fn drain(mut s: &UnixStream) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

#[test]
fn poller_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Poller>();
    check::<Events>();
}

#[test]
fn oneshot_disarms_until_modify() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller
        .add(&b, 1, Interest::READABLE, Mode::Oneshot)
        .unwrap();
    a.write_all(b"x").unwrap();
    let mut events = Events::new();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [1]);
    // Still readable (not drained), yet disarmed.
    assert!(wait(&poller, &mut events, QUIET).is_empty());
    a.write_all(b"y").unwrap();
    assert!(wait(&poller, &mut events, QUIET).is_empty());
    // Re-armed, with a new key: reported again.
    poller
        .modify(&b, 2, Interest::READABLE, Mode::Oneshot)
        .unwrap();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [2]);
    assert!(wait(&poller, &mut events, QUIET).is_empty());
}

#[test]
fn level_reports_while_ready() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller.add(&b, 3, Interest::READABLE, Mode::Level).unwrap();
    a.write_all(b"abc").unwrap();
    let mut events = Events::new();
    for _ in 0..3 {
        let got = wait(&poller, &mut events, GUARD);
        assert_eq!(keys(&got), [3]);
        assert!(got[0].is_readable());
    }
    assert_eq!(drain(&b), 3);
    assert!(wait(&poller, &mut events, QUIET).is_empty());
}

#[test]
fn edge_reports_each_new_readiness_once() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller.add(&b, 4, Interest::READABLE, Mode::Edge).unwrap();
    let mut events = Events::new();
    a.write_all(b"1").unwrap();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [4]);
    // Not drained, but no new edge: nothing.
    assert!(wait(&poller, &mut events, QUIET).is_empty());
    // New data is a new edge.
    a.write_all(b"2").unwrap();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [4]);
    assert_eq!(drain(&b), 2);
    assert!(wait(&poller, &mut events, QUIET).is_empty());
}

#[test]
fn writable_and_both() {
    let poller = Poller::new().unwrap();
    let (a, mut b) = pair();
    poller.add(&a, 5, Interest::WRITABLE, Mode::Level).unwrap();
    let mut events = Events::new();
    let got = wait(&poller, &mut events, GUARD);
    assert_eq!(keys(&got), [5]);
    assert!(got[0].is_writable());

    b.write_all(b"z").unwrap();
    poller.modify(&a, 6, Interest::BOTH, Mode::Level).unwrap();
    let got = wait(&poller, &mut events, GUARD);
    assert!(got.iter().all(|e| e.key() == 6));
    assert!(got.iter().any(Event::is_readable));
    assert!(got.iter().any(Event::is_writable));
}

#[test]
fn hangup_is_reported_and_readable() {
    let poller = Poller::new().unwrap();
    let (a, b) = pair();
    poller.add(&b, 8, Interest::READABLE, Mode::Level).unwrap();
    drop(a);
    let mut events = Events::new();
    let got = wait(&poller, &mut events, GUARD);
    assert_eq!(keys(&got), [8]);
    assert!(got[0].is_hangup());
    assert!(got[0].is_readable());
    assert_eq!(drain(&b), 0);
}

#[test]
fn timeout_never_returns_early() {
    let poller = Poller::new().unwrap();
    let mut events = Events::new();
    for micros in [1, 100, 999, 1000, 1001, 1500, 5000, 20_000] {
        let timeout = Duration::from_micros(micros);
        let start = Instant::now();
        let n = poller.wait(&mut events, Some(timeout)).unwrap();
        let elapsed = start.elapsed();
        assert_eq!(n, 0);
        assert!(
            elapsed >= timeout,
            "wait({timeout:?}) returned after {elapsed:?}"
        );
    }
}

#[test]
fn zero_timeout_only_looks() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    let mut events = Events::new();
    assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    poller.add(&b, 9, Interest::READABLE, Mode::Level).unwrap();
    a.write_all(b"x").unwrap();
    assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
}

extern "C" fn ignore_signal(_: libc::c_int) {}

#[test]
fn signal_during_wait_is_retried_not_surfaced() {
    // SAFETY: installing a handler that does nothing, without SA_RESTART so that the wait's
    // system call really is interrupted; SIGUSR2 is used by nothing else in this test binary.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore_signal as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            let poller = Poller::new().unwrap();
            let mut events = Events::new();
            let timeout = Duration::from_millis(300);
            let start = Instant::now();
            let result = poller.wait(&mut events, Some(timeout));
            let elapsed = start.elapsed();
            done.store(true, Ordering::SeqCst);
            (result.map_err(|e| e.kind()), elapsed, timeout)
        })
    };
    let thread_id = rx.recv().unwrap();
    let mut sent = 0;
    while !done.load(Ordering::SeqCst) {
        // SAFETY: the waiter thread is alive until `done` is set, and we stop sending then;
        // a signal that lands after the wait returned only runs the empty handler.
        unsafe { libc::pthread_kill(thread_id, libc::SIGUSR2) };
        sent += 1;
        thread::sleep(Duration::from_millis(5));
    }
    let (result, elapsed, timeout) = waiter.join().unwrap();
    assert_eq!(result, Ok(0), "a signal surfaced from wait");
    assert!(elapsed >= timeout, "returned early after {elapsed:?}");
    assert!(sent > 1);
}

#[test]
fn notify_wakes_a_blocked_wait() {
    let poller = Arc::new(Poller::new().unwrap());
    let waker = Arc::clone(&poller);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        waker.notify().unwrap();
    });
    let mut events = Events::new();
    let n = poller.wait(&mut events, Some(GUARD)).unwrap();
    assert_eq!(n, 0);
    assert!(events.is_notified(), "woke without the notify");
    assert!(events.iter().all(|e| e.key() != NOTIFY_KEY));
    t.join().unwrap();
}

#[test]
fn notifies_coalesce_and_are_consumed() {
    let poller = Poller::new().unwrap();
    for _ in 0..10 {
        poller.notify().unwrap();
    }
    let mut events = Events::new();
    poller.wait(&mut events, Some(GUARD)).unwrap();
    assert!(events.is_notified());
    // The burst woke one wait; the next one sees nothing.
    assert_eq!(poller.wait(&mut events, Some(QUIET)).unwrap(), 0);
    assert!(!events.is_notified());
    // And a later notify still lands.
    poller.notify().unwrap();
    poller.wait(&mut events, Some(GUARD)).unwrap();
    assert!(events.is_notified());
}

#[test]
fn notify_before_wait_is_not_lost() {
    let poller = Poller::new().unwrap();
    poller.notify().unwrap();
    let mut events = Events::new();
    // With no timeout: a lost notify would hang here.
    poller.wait(&mut events, None).unwrap();
    assert!(events.is_notified());
}

/// Two threads bounce a wake-up back and forth through two pollers. Each wait has no
/// timeout, so one lost notify hangs the test (the hang guard then fails it).
#[test]
fn a_million_notify_wait_cycles_lose_no_wake() {
    const CYCLES: usize = 1_000_000;
    let ping = Arc::new(Poller::new().unwrap());
    let pong = Arc::new(Poller::new().unwrap());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let echo = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        thread::spawn(move || {
            let mut events = Events::with_capacity(4);
            for _ in 0..CYCLES {
                ping.wait(&mut events, None).unwrap();
                assert!(events.is_notified());
                pong.notify().unwrap();
            }
        })
    };
    let driver = thread::spawn(move || {
        let mut events = Events::with_capacity(4);
        for _ in 0..CYCLES {
            ping.notify().unwrap();
            pong.wait(&mut events, None).unwrap();
            assert!(events.is_notified());
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("a wake was lost: the ping-pong stalled");
    driver.join().unwrap();
    echo.join().unwrap();
}

/// Two threads wait on one poller while a third publishes a counter and notifies after each
/// step. A notify wakes the wait in progress or the next one, so whichever waiter is
/// blocked must see every published step in the end; a lost wake leaves both asleep.
#[test]
fn notifies_reach_one_of_two_concurrent_waiters() {
    use std::sync::atomic::AtomicUsize;
    const STEPS: usize = 100_000;
    let poller = Arc::new(Poller::new().unwrap());
    let published = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let (poller, published, done_tx) =
                (Arc::clone(&poller), Arc::clone(&published), done_tx.clone());
            thread::spawn(move || {
                let mut events = Events::with_capacity(4);
                let mut woken = 0usize;
                // Wait at least once, so a waiter that starts after the last step still has
                // a notify to take.
                loop {
                    poller.wait(&mut events, None).unwrap();
                    woken += usize::from(events.is_notified());
                    if published.load(Ordering::SeqCst) >= STEPS {
                        break;
                    }
                }
                done_tx.send(woken).unwrap();
            })
        })
        .collect();
    for step in 1..=STEPS {
        published.store(step, Ordering::SeqCst);
        poller.notify().unwrap();
    }
    // The last notify released one waiter; the other may still sleep, which is allowed, so
    // each one that finishes wakes the rest with one more notify.
    let mut woken = 0;
    for _ in 0..2 {
        woken += done_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a wake was lost: no waiter saw the last step");
        poller.notify().unwrap();
    }
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert!(woken >= 1, "no wait reported a notify");
}

/// With no descriptor registered and no timeout, a wait may return only with a notify. Four
/// waiters race for each notify, sent one at a time so that every one is a real wake-up: each
/// must land in exactly one wait, and the waiters that lose the race must go back to sleep,
/// not return empty-handed.
#[test]
fn each_notify_lands_in_one_of_several_waits_and_losers_keep_waiting() {
    use std::sync::atomic::AtomicUsize;
    const ROUNDS: usize = 20_000;
    const WAITERS: usize = 4;
    let poller = Arc::new(Poller::new().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let landed = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (poller, stop, landed, done_tx) = (
                Arc::clone(&poller),
                Arc::clone(&stop),
                Arc::clone(&landed),
                done_tx.clone(),
            );
            thread::spawn(move || {
                let mut events = Events::with_capacity(4);
                let mut empty_returns = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    poller.wait(&mut events, None).unwrap();
                    if events.is_notified() {
                        landed.fetch_add(1, Ordering::SeqCst);
                    } else {
                        empty_returns += 1;
                    }
                }
                done_tx.send(empty_returns).unwrap();
            })
        })
        .collect();
    for round in 1..=ROUNDS {
        poller.notify().unwrap();
        let guard = Instant::now() + GUARD;
        while landed.load(Ordering::SeqCst) < round {
            assert!(Instant::now() < guard, "notify {round} was lost");
            thread::yield_now();
        }
        // The previous notify was taken, so none can have merged into this one.
        assert_eq!(
            landed.load(Ordering::SeqCst),
            round,
            "a notify landed twice"
        );
    }
    stop.store(true, Ordering::SeqCst);
    // Each notify after the stop releases at least one waiter, which then sees the stop.
    let mut empty_returns = 0;
    for _ in 0..WAITERS {
        poller.notify().unwrap();
        empty_returns += done_rx
            .recv_timeout(GUARD)
            .expect("a wake was lost: a waiter never saw the stop");
    }
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert_eq!(
        empty_returns, 0,
        "waits with no timeout returned with neither an event nor a notify"
    );
}

/// A wait that returns for a descriptor event also takes a notify that arrived meanwhile,
/// even when its wake-up record did not fit in the buffer. That record, found later, must
/// neither count as a second notify nor end a later wait before its timeout.
#[test]
fn a_late_wake_up_record_is_not_a_second_notify() {
    let poller = Arc::new(Poller::new().unwrap());
    let (a, b) = pair();
    poller.add(&b, 1, Interest::READABLE, Mode::Level).unwrap();
    let waker = {
        let poller = Arc::clone(&poller);
        thread::spawn(move || {
            // Let the main thread block first, so that the notify finds it waiting and posts
            // a record behind the descriptor's event.
            thread::sleep(Duration::from_millis(20));
            (&a).write_all(b"x").unwrap();
            poller.notify().unwrap();
            a
        })
    };
    let mut events = Events::with_capacity(1);
    let mut notifies = 0;
    let mut returned = poller.wait(&mut events, None).unwrap();
    notifies += usize::from(events.is_notified());
    let deadline = Instant::now() + GUARD;
    while notifies == 0 && Instant::now() < deadline {
        // The notify came after this wait left: it is pending for a later one. The descriptor
        // stays readable (level mode), so a wait may return with it again before the waking
        // thread has posted its notify; keep looking until it lands.
        returned = poller.wait(&mut events, Some(GUARD)).unwrap();
        notifies += usize::from(events.is_notified());
    }
    assert_eq!(notifies, 1, "the notify was lost");
    assert!(returned <= 1);
    let _a = waker.join().unwrap();
    assert_eq!(drain(&b), 1);
    let start = Instant::now();
    assert_eq!(poller.wait(&mut events, Some(QUIET)).unwrap(), 0);
    assert!(!events.is_notified(), "one notify was reported twice");
    assert!(
        start.elapsed() >= QUIET,
        "a stale record ended the wait early"
    );
}

/// A notify while no thread waits is kept, not lost, and makes the next wait return at once
/// together with any descriptor events already there.
#[test]
fn notify_with_no_waiter_lands_in_the_next_wait_with_events() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller.add(&b, 3, Interest::READABLE, Mode::Level).unwrap();
    poller.notify().unwrap();
    a.write_all(b"x").unwrap();
    let mut events = Events::new();
    // No timeout: a lost notify and a missed event would both hang here or fail below.
    assert_eq!(poller.wait(&mut events, None).unwrap(), 1);
    assert!(events.is_notified());
    assert_eq!(keys(&events.iter().collect::<Vec<_>>()), [3]);
    // Taken: the next wait sees only the descriptor, still ready in level mode.
    assert_eq!(wait(&poller, &mut events, QUIET).len(), 1);
    assert!(!events.is_notified());
}

#[test]
fn more_ready_than_capacity_are_reported_next_time() {
    let poller = Poller::new().unwrap();
    let pairs: Vec<_> = (0..100).map(|_| pair()).collect();
    for (key, (a, b)) in pairs.iter().enumerate() {
        poller.add(b, key, Interest::READABLE, Mode::Level).unwrap();
        (&*a).write_all(b"x").unwrap();
    }
    let mut events = Events::with_capacity(7);
    let mut seen = HashSet::new();
    while seen.len() < pairs.len() {
        let n = poller.wait(&mut events, Some(GUARD)).unwrap();
        assert!(n > 0 && n <= 7, "got {n} events");
        for event in &events {
            assert!(seen.insert(event.key()), "key {} twice", event.key());
            assert_eq!(drain(&pairs[event.key()].1), 1);
        }
    }
    assert_eq!(poller.wait(&mut events, Some(QUIET)).unwrap(), 0);
}

#[test]
fn edge_mode_events_beyond_capacity_are_not_dropped() {
    let poller = Poller::new().unwrap();
    let pairs: Vec<_> = (0..50).map(|_| pair()).collect();
    for (key, (a, b)) in pairs.iter().enumerate() {
        poller.add(b, key, Interest::READABLE, Mode::Edge).unwrap();
        (&*a).write_all(b"x").unwrap();
    }
    let mut events = Events::with_capacity(3);
    let mut seen = HashSet::new();
    while seen.len() < pairs.len() {
        poller.wait(&mut events, Some(GUARD)).unwrap();
        assert!(!events.is_empty(), "an edge event was dropped");
        seen.extend(events.iter().map(|e| e.key()));
    }
}

#[test]
fn capacity_zero_is_taken_as_one() {
    let events = Events::with_capacity(0);
    assert_eq!(events.capacity(), 1);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn registering_twice_is_already_exists() {
    let poller = Poller::new().unwrap();
    let (_a, b) = pair();
    poller.add(&b, 1, Interest::READABLE, Mode::Level).unwrap();
    let err = poller
        .add(&b, 1, Interest::READABLE, Mode::Level)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
}

/// kqueue has no way to tell a second add from a modify: as documented, it replaces the
/// registration, and events carry the new key.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[test]
fn registering_twice_replaces_on_kqueue() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller.add(&b, 1, Interest::READABLE, Mode::Level).unwrap();
    poller.add(&b, 2, Interest::READABLE, Mode::Level).unwrap();
    a.write_all(b"x").unwrap();
    let mut events = Events::new();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [2]);
}

#[test]
fn modify_or_delete_unregistered_is_not_found() {
    let poller = Poller::new().unwrap();
    let (_a, b) = pair();
    let err = poller.delete(&b).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    if cfg!(target_os = "linux") {
        let err = poller
            .modify(&b, 1, Interest::READABLE, Mode::Level)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
    // Deleting twice: the second is NotFound too.
    poller.add(&b, 1, Interest::READABLE, Mode::Level).unwrap();
    poller.delete(&b).unwrap();
    assert_eq!(
        poller.delete(&b).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn notify_key_is_reserved() {
    let poller = Poller::new().unwrap();
    let (_a, b) = pair();
    let err = poller
        .add(&b, NOTIFY_KEY, Interest::READABLE, Mode::Level)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("notify"), "{err}");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn regular_file_is_a_clear_error() {
    let poller = Poller::new().unwrap();
    let file = File::open(std::env::current_exe().unwrap()).unwrap();
    let err = poller
        .add(&file, 1, Interest::READABLE, Mode::Level)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("cannot be polled"), "{err}");
}

/// kqueue accepts regular files and reports them readable while data is left to read.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[test]
fn regular_file_is_readable_on_kqueue() {
    let poller = Poller::new().unwrap();
    let file = File::open(std::env::current_exe().unwrap()).unwrap();
    poller
        .add(&file, 1, Interest::READABLE, Mode::Level)
        .unwrap();
    let mut events = Events::new();
    let got = wait(&poller, &mut events, GUARD);
    assert_eq!(keys(&got), [1]);
    assert!(got[0].is_readable());
}

#[test]
fn closed_descriptor_is_a_clear_error() {
    let poller = Poller::new().unwrap();
    let (_a, b) = pair();
    let raw = b.as_raw_fd();
    drop(b);
    // SAFETY: on purpose a descriptor number that is closed; the poller only passes it to
    // the kernel, which answers EBADF. Nothing in this test opens a descriptor meanwhile.
    let closed = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    let err = poller
        .add(closed, 1, Interest::READABLE, Mode::Level)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
}

/// epoll registers the open file description. A duplicate keeps it alive after the
/// original descriptor closes: events keep coming under the old key, and the registration
/// cannot be deleted through the duplicate's number. This is why braid says: delete, then
/// close.
#[cfg(target_os = "linux")]
#[test]
fn epoll_duplicated_descriptor_outlives_close() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    let dup = b.try_clone().unwrap();
    poller.add(&b, 11, Interest::READABLE, Mode::Level).unwrap();
    drop(b);
    a.write_all(b"x").unwrap();
    let mut events = Events::new();
    assert_eq!(keys(&wait(&poller, &mut events, GUARD)), [11]);
    // The duplicate was never registered under its own number.
    assert_eq!(
        poller.delete(&dup).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    // Closing the last descriptor of the description ends the registration.
    drop(dup);
    assert!(wait(&poller, &mut events, QUIET).is_empty());
}

/// Makes sure this process may open `wanted` descriptors and returns the soft limit now in
/// force; fails the test, saying how to fix it, when even the hard limit is too low. A test
/// that needs many descriptors must not pass without having run.
fn raise_fd_limit(wanted: u64) -> u64 {
    braid_sys::fd::raise_descriptor_limit(wanted).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn ten_thousand_registered_sockets() {
    const SOCKETS: usize = 10_000;
    raise_fd_limit(SOCKETS as u64 + 200);
    let poller = Poller::new().unwrap();
    let pairs: Vec<_> = (0..SOCKETS / 2).map(|_| pair()).collect();
    for (i, (a, b)) in pairs.iter().enumerate() {
        poller
            .add(a, 2 * i, Interest::READABLE, Mode::Edge)
            .unwrap();
        poller
            .add(b, 2 * i + 1, Interest::READABLE, Mode::Edge)
            .unwrap();
    }
    // Make every 97th pair's `b` readable.
    let mut expected = HashSet::new();
    for i in (0..pairs.len()).step_by(97) {
        (&pairs[i].0).write_all(b"x").unwrap();
        expected.insert(2 * i + 1);
    }
    let mut events = Events::new();
    let mut seen = HashSet::new();
    while seen.len() < expected.len() {
        poller.wait(&mut events, Some(GUARD)).unwrap();
        assert!(!events.is_empty(), "events went missing");
        seen.extend(events.iter().map(|e| e.key()));
    }
    assert_eq!(seen, expected);
}

#[test]
fn events_buffer_api() {
    let poller = Poller::new().unwrap();
    let (mut a, b) = pair();
    poller.add(&b, 30, Interest::READABLE, Mode::Level).unwrap();
    a.write_all(b"x").unwrap();
    let mut events = Events::default();
    assert!(events.is_empty());
    assert_eq!(poller.wait(&mut events, Some(GUARD)).unwrap(), 1);
    assert_eq!(events.len(), 1);
    assert_eq!(events.iter().len(), 1);
    assert!(format!("{events:?}").contains("key: 30"));
    events.clear();
    assert!(events.is_empty() && !events.is_notified());
    assert_eq!(format!("{:?}", Interest::BOTH), "READABLE | WRITABLE");
    let mut interest = Interest::READABLE;
    interest |= Interest::WRITABLE;
    assert_eq!(interest, Interest::BOTH);
    assert!(!Interest::READABLE.is_writable());
}
