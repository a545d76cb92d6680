use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::handler::{self, SIGNAL_LIMIT, WAKE_SLOT_LIMIT};
use super::{registry, WakeTarget};
use crate::fd;

/// A number no system delivers on its own and no other test uses: the handler is called
/// directly here, never through the operating system.
const UNDELIVERED: usize = 100;

/// Held by every test that takes a wake-up slot, so the test that takes them all leaves no
/// other without one.
static SLOTS: Mutex<()> = Mutex::new(());

fn slots() -> MutexGuard<'static, ()> {
    SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A socket pair whose read end does not block: `(reader, writer)`.
fn wake_pair() -> (OwnedFd, OwnedFd) {
    let (reader, writer) = fd::socket_pair().unwrap();
    fd::set_nonblocking(reader.as_fd(), true).unwrap();
    (reader, writer)
}

fn read_all(reader: &OwnedFd) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 16];
    loop {
        match fd::read(reader.as_raw_fd(), &mut buf) {
            Ok(0) => return total,
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
fn the_handler_counts_and_writes_only_to_interested_open_targets() {
    let _slots = slots();
    let (reader, writer) = wake_pair();
    let target = WakeTarget::new(writer).unwrap();
    let before = handler::deliveries(UNDELIVERED);

    // Not interested yet: counted, but nobody woken.
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    target.set_interest(UNDELIVERED, true);
    handler::handle(UNDELIVERED as libc::c_int);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 2);

    // Another signal does not wake a target interested only in this one.
    handler::handle((UNDELIVERED + 1) as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    target.set_interest(UNDELIVERED, false);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);

    // A target that was dropped is never written again, even with interest set, and its
    // descriptor is closed: the reader sees end of file.
    target.set_interest(UNDELIVERED, true);
    drop(target);
    handler::handle(UNDELIVERED as libc::c_int);
    assert_eq!(read_all(&reader), 0);
    let mut buf = [0u8; 1];
    assert_eq!(fd::read(reader.as_raw_fd(), &mut buf).unwrap(), 0);

    assert_eq!(handler::deliveries(UNDELIVERED) - before, 5);
}

#[test]
fn a_full_wake_up_socket_does_not_block_the_handler() {
    let _slots = slots();
    let (reader, writer) = wake_pair();
    let target = WakeTarget::new(writer).unwrap();
    target.set_interest(UNDELIVERED + 2, true);
    // Far more than any socket buffer holds: each write past the limit fails with EAGAIN.
    for _ in 0..300_000 {
        handler::handle((UNDELIVERED + 2) as libc::c_int);
    }
    drop(target);
    assert!(read_all(&reader) > 0);
}

#[test]
fn the_handler_keeps_errno() {
    let _slots = slots();
    // The handler's write to a socket whose peer is closed fails with EPIPE (the Rust
    // runtime ignores SIGPIPE), which must not leak into the interrupted code's errno.
    let (reader, writer) = wake_pair();
    drop(reader);
    let target = WakeTarget::new(writer).unwrap();
    target.set_interest(UNDELIVERED + 3, true);
    handler::errno::set(libc::ENOENT);
    handler::handle((UNDELIVERED + 3) as libc::c_int);
    let after = handler::errno::get();
    drop(target);
    assert_eq!(after, libc::ENOENT);
}

#[test]
fn running_out_of_wake_up_slots_is_a_clear_error_and_slots_come_back() {
    let _slots = slots();
    let (_reader, writer) = wake_pair();
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
    let (_, spare) = wake_pair();
    assert_eq!(
        WakeTarget::new(spare).unwrap_err().kind(),
        std::io::ErrorKind::OutOfMemory
    );
    registry::give_back_wake_slot(taken.pop().unwrap());
    let (_, spare) = wake_pair();
    drop(WakeTarget::new(spare).unwrap());
    for slot in taken {
        registry::give_back_wake_slot(slot);
    }
}

/// The disposition of `signum` now, as a handler address.
fn disposition(signum: libc::c_int) -> libc::sighandler_t {
    let mut now = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads the current one into `now`.
    unsafe { crate::syscall!(sigaction(signum, std::ptr::null(), now.as_mut_ptr())) }.unwrap();
    // SAFETY: sigaction succeeded, so it filled `now`.
    unsafe { now.assume_init() }.sa_sigaction
}

#[test]
fn the_last_subscription_puts_the_old_disposition_back() {
    let signum = libc::SIGURG;
    assert_eq!(disposition(signum), libc::SIG_DFL);
    let first = super::subscribe(signum).unwrap();
    let second = super::subscribe(signum).unwrap();
    let handle: extern "C" fn(libc::c_int) = handler::handle;
    assert_eq!(disposition(signum), handle as libc::sighandler_t);
    drop(first);
    assert_eq!(disposition(signum), handle as libc::sighandler_t);
    drop(second);
    assert_eq!(disposition(signum), libc::SIG_DFL);
}

#[test]
fn names_are_the_usual_ones() {
    assert_eq!(super::name(libc::SIGTERM), Some("SIGTERM"));
    assert_eq!(super::name(libc::SIGKILL), Some("SIGKILL"));
    assert_eq!(super::name(0), None);
}

/// Waits for child `pid` for at most a minute; kills it and fails the test if it hangs.
fn wait_child(pid: u32) -> crate::process::ExitStatus {
    for _ in 0..6000 {
        if let Some(status) = crate::process::wait_pid(pid, false).unwrap() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = crate::process::kill(pid, libc::SIGKILL);
    let _ = crate::process::wait_pid(pid, true);
    panic!("the forked child hung (a registry lock held by a thread it does not have?)");
}

#[test]
fn a_forked_child_forgets_the_parents_listeners_even_with_the_lock_held() {
    let _slots = slots();
    let signum = libc::SIGXCPU;
    let (reader, writer) = wake_pair();
    let target = WakeTarget::new(writer).unwrap();
    let subscription = super::subscribe(signum).unwrap();
    target.set_interest(subscription.signum(), true);
    let handle: extern "C" fn(libc::c_int) = handler::handle;
    assert_eq!(disposition(signum), handle as libc::sighandler_t);

    // Another thread holds the registry's lock across the fork.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _guard = registry::lock_for_test();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv();
    });
    locked_rx.recv().unwrap();

    // SAFETY: the child only calls async-signal-safe functions (atomics, sigaction, read,
    // an uncontended lock) and leaves with `exit_now`.
    let child = match unsafe { crate::process::fork() }.unwrap() {
        Some(pid) => pid,
        None => {
            // SAFETY: this child has a single thread.
            unsafe { super::reset_after_fork() };
            let mut code = 0;
            if disposition(signum) != libc::SIG_DFL {
                code |= 1;
            }
            // The handler no longer writes to the parent's descriptor.
            handler::handle(signum);
            let mut buf = [0u8; 4];
            if fd::read(reader.as_raw_fd(), &mut buf).is_ok() {
                code |= 2;
            }
            // The registry works again: a new listener installs the handler.
            match super::subscribe(signum) {
                Ok(_) if disposition(signum) == handle as libc::sighandler_t => {}
                _ => code |= 4,
            }
            crate::process::exit_now(code);
        }
    };
    let status = wait_child(child);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "1: disposition kept, 2: old descriptor written, 4: registry unusable; {status}"
    );
    // The parent's own listener is untouched.
    assert_eq!(disposition(signum), handle as libc::sighandler_t);
    drop((subscription, target));
    assert_eq!(disposition(signum), libc::SIG_DFL);
}
