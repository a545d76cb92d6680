//! What runs inside the signal handler, and the memory it reads.
//!
//! The handler may run on any thread, at any instruction, even in the middle of the code
//! that registers or unregisters a loop. So everything it touches is a fixed-size static
//! array of atomics that is never freed or moved; it takes no lock, allocates nothing, and
//! its only system call is `write(2)` to a non-blocking descriptor. It saves and restores
//! `errno`, which that `write` may change under the interrupted code's feet.

use std::hint;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Signal numbers `1..SIGNAL_LIMIT` can be listened for: Linux has 64, macOS 31, and
/// FreeBSD's real-time signals end at 126.
pub const SIGNAL_LIMIT: usize = 128;

/// How many loops can listen for signals at the same time.
pub const WAKE_SLOT_LIMIT: usize = 1024;

/// How many times each signal was delivered since the process started. Listeners compare
/// it with the count they last saw, so a burst of deliveries reads as (at least) one.
static DELIVERIES: [AtomicU64; SIGNAL_LIMIT] = [const { AtomicU64::new(0) }; SIGNAL_LIMIT];

/// One loop's wake-up descriptor, as the handler sees it.
struct WakeSlot {
    /// The write end of the loop's socket pair; `-1` while the slot is free.
    fd: AtomicI32,
    /// Bit `n % 64` of word `n / 64`: the loop has a listener for signal `n`.
    interest: [AtomicU64; SIGNAL_LIMIT / 64],
    /// Handlers between reading `fd` and finishing their `write`. A loop closes its
    /// descriptor only after clearing `fd` and seeing this at zero, so a handler never
    /// writes to a closed descriptor, or to an unrelated file that reused its number.
    writing: AtomicUsize,
}

impl WakeSlot {
    const fn free() -> WakeSlot {
        WakeSlot {
            fd: AtomicI32::new(-1),
            interest: [const { AtomicU64::new(0) }; SIGNAL_LIMIT / 64],
            writing: AtomicUsize::new(0),
        }
    }
}

static WAKE_SLOTS: [WakeSlot; WAKE_SLOT_LIMIT] = [const { WakeSlot::free() }; WAKE_SLOT_LIMIT];

/// One more than the highest slot ever used: the handler scans no further.
static WAKE_SLOTS_USED: AtomicUsize = AtomicUsize::new(0);

/// How many times `signum` has been delivered so far.
pub(crate) fn deliveries(signum: usize) -> u64 {
    DELIVERIES[signum].load(SeqCst)
}

/// The signal handler: counts the delivery, then writes one byte to the wake-up descriptor
/// of every loop that listens for `signum`.
pub(crate) extern "C" fn handle(signum: libc::c_int) {
    let saved_errno = errno::get();
    let Some(count) = usize::try_from(signum)
        .ok()
        .and_then(|index| DELIVERIES.get(index))
    else {
        return;
    };
    // The count goes up before any loop is woken, so a woken listener always finds it
    // changed. All orderings in this file are `SeqCst`: see `close` for the pairing.
    count.fetch_add(1, SeqCst);
    let (word, bit) = interest_bit(signum as usize);
    let used = WAKE_SLOTS_USED.load(SeqCst).min(WAKE_SLOT_LIMIT);
    for slot in &WAKE_SLOTS[..used] {
        if slot.interest[word].load(SeqCst) & bit == 0 {
            continue;
        }
        slot.writing.fetch_add(1, SeqCst);
        let fd = slot.fd.load(SeqCst);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: `fd` stays open until `writing` is back to zero (see `close`), and
            // `byte` is a live one-byte buffer. The descriptor is non-blocking; a full
            // buffer (`EAGAIN`) already means the loop will wake, so the result is ignored.
            let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
        slot.writing.fetch_sub(1, SeqCst);
    }
    errno::set(saved_errno);
}

fn interest_bit(signum: usize) -> (usize, u64) {
    (signum / 64, 1 << (signum % 64))
}

/// Publishes `fd` in the free slot `index`. The caller owns the slot (the registry hands
/// each out once) and keeps `fd` open until [`close`] returns.
pub(crate) fn open(index: usize, fd: RawFd) {
    WAKE_SLOTS_USED.fetch_max(index + 1, SeqCst);
    WAKE_SLOTS[index].fd.store(fd, SeqCst);
}

/// Withdraws the descriptor of slot `index` and waits until no handler can still be
/// writing to it; afterwards the caller may close it.
pub(crate) fn close(index: usize) {
    let slot = &WAKE_SLOTS[index];
    for word in &slot.interest {
        word.store(0, SeqCst);
    }
    // Pairs with the handler's `writing += 1` then `fd` load: in the single order of
    // `SeqCst` operations, a handler that still read the old `fd` incremented `writing`
    // before this store, so the load below sees it until that handler's write is over.
    slot.fd.store(-1, SeqCst);
    while slot.writing.load(SeqCst) != 0 {
        // A handler on another thread is between two instructions that cannot block.
        hint::spin_loop();
    }
}

/// Empties every slot at once, for a child right after `fork`: the descriptors it names are
/// the parent's, and their numbers may be reused by the child's own files.
///
/// Only slots below [`WAKE_SLOTS_USED`] can have been written (a slot is published, and its
/// interest set, only after [`open`] raised the mark past it), so the rest are left alone:
/// a forked child then copies none of their pages, and a pool's fork server and each of
/// its workers pay for the few slots in use rather than for all 32 KiB.
pub(crate) fn forget_all() {
    let used = WAKE_SLOTS_USED.swap(0, SeqCst).min(WAKE_SLOT_LIMIT);
    for slot in &WAKE_SLOTS[..used] {
        slot.fd.store(-1, SeqCst);
        for word in &slot.interest {
            word.store(0, SeqCst);
        }
        slot.writing.store(0, SeqCst);
    }
}

/// Makes the handler wake slot `index`'s loop for `signum` (or stop doing so).
pub(crate) fn set_interest(index: usize, signum: usize, interested: bool) {
    let (word, bit) = interest_bit(signum);
    let word = &WAKE_SLOTS[index].interest[word];
    if interested {
        word.fetch_or(bit, SeqCst);
    } else {
        word.fetch_and(!bit, SeqCst);
    }
}

/// The calling thread's `errno`, read and written through the platform's accessor.
pub(crate) mod errno {
    #[cfg(any(target_os = "linux", target_os = "dragonfly"))]
    use libc::__errno_location as location;

    #[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))]
    use libc::__errno as location;

    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    use libc::__error as location;

    pub(crate) fn get() -> libc::c_int {
        // SAFETY: the accessor returns a valid pointer to this thread's `errno`.
        unsafe { *location() }
    }

    pub(crate) fn set(value: libc::c_int) {
        // SAFETY: as in `get`; the pointer is valid for writes too.
        unsafe { *location() = value }
    }
}
