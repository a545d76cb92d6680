//! Process-wide bookkeeping, kept under one lock the handler never takes: how many listeners
//! each signal has in all loops, the disposition each signal had before braid installed its
//! handler, and which wake-up slots are taken.

use std::io;
use std::mem::{self, MaybeUninit};
use std::os::fd::RawFd;
use std::ptr;

use parking_lot::{Mutex, MutexGuard};

use super::handler::{self, SIGNAL_LIMIT, WAKE_SLOT_LIMIT};

pub(crate) struct Registry {
    /// Listeners of each signal, over every loop and thread.
    listeners: [usize; SIGNAL_LIMIT],
    /// The disposition to put back when a signal's last listener goes; set while it has
    /// listeners.
    previous: [Option<libc::sigaction>; SIGNAL_LIMIT],
    /// Wake-up slots handed out to loops.
    slot_taken: [bool; WAKE_SLOT_LIMIT],
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    listeners: [0; SIGNAL_LIMIT],
    previous: [None; SIGNAL_LIMIT],
    slot_taken: [false; WAKE_SLOT_LIMIT],
});

/// parking_lot's mutex, for `force_unlock`: after a `fork` the lock may be held by a thread
/// that does not exist in the child (see [`reset_after_fork`]).
fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock()
}

/// The lock, for a test that holds it across a `fork`.
#[cfg(test)]
pub(crate) fn lock_for_test() -> MutexGuard<'static, Registry> {
    lock()
}

/// Forgets every listener, wake-up slot and saved disposition inherited from the parent, and
/// puts back the disposition each listened-for signal had before braid's handler.
/// Async-signal-safe: no allocation, only atomics and `sigaction`.
///
/// # Safety
///
/// Only in a child process right after `fork`, while it has a single thread.
pub(crate) unsafe fn reset_after_fork() {
    handler::forget_all();
    if REGISTRY.is_locked() {
        // SAFETY: the holder was another thread of the parent, which does not exist here, so
        // no guard will ever release the lock; the caller promises no other thread runs.
        unsafe { REGISTRY.force_unlock() };
    }
    let mut registry = lock();
    // Only entries in use are written: the child then copies only the pages that hold them
    // (the tables fill about 20 KiB, and a pool forks a child per worker).
    for signum in 1..SIGNAL_LIMIT {
        if let Some(previous) = registry.previous[signum] {
            registry.previous[signum] = None;
            // SAFETY: `previous` is what `sigaction` itself returned for this signal. A
            // failure (only an invalid argument) leaves braid's handler, which now writes
            // nowhere and only counts.
            let _ = unsafe {
                crate::syscall!(sigaction(signum as libc::c_int, &previous, ptr::null_mut()))
            };
        }
        if registry.listeners[signum] != 0 {
            registry.listeners[signum] = 0;
        }
    }
    for taken in registry.slot_taken.iter_mut().filter(|taken| **taken) {
        *taken = false;
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Checks that `signum` is a signal a loop can listen for; returns it as an index.
///
/// # Errors
///
/// `InvalidInput` for numbers that are no signal, for `SIGKILL` and `SIGSTOP` (which cannot
/// be caught) and for `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` (faults of the thread that
/// caused them: a handler that returns runs the faulting instruction again).
pub(crate) fn validate(signum: i32) -> io::Result<usize> {
    match signum {
        libc::SIGKILL | libc::SIGSTOP => Err(invalid(format!(
            "signal {signum} ({}) cannot be caught, so it cannot be listened for",
            super::name(signum).unwrap_or("?")
        ))),
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE => Err(invalid(format!(
            "signal {signum} ({}) reports a fault of the thread that caused it and cannot \
             be listened for; only asynchronous signals such as SIGINT, SIGTERM, SIGHUP, \
             SIGUSR1 or SIGCHLD can",
            super::name(signum).unwrap_or("?")
        ))),
        _ => match usize::try_from(signum) {
            Ok(index) if (1..SIGNAL_LIMIT).contains(&index) => Ok(index),
            _ => Err(invalid(format!(
                "{signum} is not a signal number; pass one such as libc::SIGINT or \
                 libc::SIGUSR1"
            ))),
        },
    }
}

/// Counts one more listener of `signum`, installing braid's handler if it is the first.
///
/// # Errors
///
/// What `sigaction` reports, `EINVAL` (a number this system does not have, or one its C
/// library reserves) as `InvalidInput`.
pub(crate) fn subscribe(signum: usize) -> io::Result<()> {
    let mut registry = lock();
    if registry.listeners[signum] == 0 {
        registry.previous[signum] = Some(install(signum)?);
    }
    registry.listeners[signum] += 1;
    Ok(())
}

/// Counts one listener of `signum` less, putting back the disposition it had before braid
/// if it was the last.
pub(crate) fn unsubscribe(signum: usize) {
    let mut registry = lock();
    registry.listeners[signum] -= 1;
    if registry.listeners[signum] == 0 {
        if let Some(previous) = registry.previous[signum].take() {
            restore(signum, &previous);
        }
    }
}

/// Takes a free wake-up slot and publishes `fd` in it for the handler.
///
/// # Errors
///
/// `OutOfMemory` if [`WAKE_SLOT_LIMIT`] loops already listen for signals.
pub(crate) fn take_wake_slot(fd: RawFd) -> io::Result<usize> {
    let mut registry = lock();
    let Some(index) = registry.slot_taken.iter().position(|taken| !taken) else {
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "at most {WAKE_SLOT_LIMIT} braid event loops can listen for signals at the \
                 same time; drop the signal listeners of loops that no longer need them"
            ),
        ));
    };
    registry.slot_taken[index] = true;
    handler::open(index, fd);
    Ok(index)
}

/// Withdraws slot `index` from the handler; once this returns, its descriptor may close.
pub(crate) fn give_back_wake_slot(index: usize) {
    handler::close(index);
    lock().slot_taken[index] = false;
}

/// Installs braid's handler for `signum`; returns the disposition it replaces.
fn install(signum: usize) -> io::Result<libc::sigaction> {
    let handle: extern "C" fn(libc::c_int) = handler::handle;
    set_action(signum, handle as libc::sighandler_t).map_err(|error| {
        if error.raw_os_error() == Some(libc::EINVAL) {
            invalid(format!(
                "signal {signum} does not exist on this system or is reserved by its C \
                 library, so it cannot be listened for"
            ))
        } else {
            error
        }
    })
}

/// Makes `handler` the disposition of `signum`; returns the one it replaces.
fn set_action(signum: usize, handler: libc::sighandler_t) -> io::Result<libc::sigaction> {
    // SAFETY: `sigaction` is a plain C struct for which all zeroes is a valid value:
    // `SIG_DFL`, no flags, an empty mask.
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = handler;
    // System calls interrupted by the handler resume instead of failing with `EINTR` in
    // code that never asked for signals.
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa_mask` is a valid `sigset_t` to write.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    let mut previous = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: `action` is initialised and `previous` is valid for the write `sigaction`
    // makes on success; `signum` was validated to be in range.
    let result = unsafe {
        crate::syscall!(sigaction(
            signum as libc::c_int,
            &action,
            previous.as_mut_ptr()
        ))
    };
    result?;
    // SAFETY: `sigaction` succeeded, so it filled `previous`.
    Ok(unsafe { previous.assume_init() })
}

/// Puts `previous` back as the disposition of `signum`.
fn restore(signum: usize, previous: &libc::sigaction) {
    // SAFETY: `previous` is a disposition `sigaction` itself returned for this signal; the
    // old action is not asked for.
    let result =
        unsafe { crate::syscall!(sigaction(signum as libc::c_int, previous, ptr::null_mut())) };
    if let Err(error) = result {
        // Only an invalid argument fails here, and this exact call succeeded before.
        tracing::error!("braid could not restore the previous handler of signal {signum}: {error}");
    }
}
