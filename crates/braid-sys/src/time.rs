//! The clock the event loop reads on every turn.

/// Nanoseconds on a monotonic clock, coarse where the system offers a cheaper one (Linux's
/// `CLOCK_MONOTONIC_COARSE`, a few milliseconds of resolution and no system call), from an
/// arbitrary start. Only differences between two readings mean anything.
///
/// Inlined: the event loop reads it after every task poll, and a call of its own (with the
/// error check a failing `clock_gettime` would need, which this one cannot be) cost about as
/// much as the read.
#[inline]
pub fn coarse_monotonic_nanos() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; the clock exists on every supported system,
    // so the call cannot fail (and if it did, `now` would read 0, still initialized).
    let _ = unsafe { libc::clock_gettime(CLOCK, &mut now) };
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

#[cfg(test)]
mod test {
    #[test]
    fn the_clock_does_not_go_back() {
        let first = super::coarse_monotonic_nanos();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = super::coarse_monotonic_nanos();
        assert!(second > first, "{second} after {first}");
    }
}
