//! A loop that cannot get a descriptor says the system refused it. Alone in its own test
//! binary: it lowers this process's descriptor limit for a moment.

use braid_executor::{EventLoop, Runtime};

/// Lowers the soft descriptor limit to the lowest free descriptor number, so no new one can
/// be had, runs `f`, and puts the limit back.
fn with_no_descriptors_left<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: dup of stdin returns the lowest free number (or -1), closed again at once.
    let lowest_free = unsafe { libc::dup(0) };
    assert!(lowest_free > 0, "no descriptor to probe with");
    // SAFETY: the descriptor was just made here.
    unsafe { libc::close(lowest_free) };
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(read, 0);
    let saved = limit;
    limit.rlim_cur = lowest_free as libc::rlim_t;
    // SAFETY: lowering the soft limit below the hard one is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let out = f();
    // SAFETY: restoring the limits read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) }, 0);
    out
}

#[test]
fn running_out_of_descriptors_is_an_os_error_that_names_the_cause() {
    let (loop_error, runtime_error) = with_no_descriptors_left(|| {
        (
            EventLoop::new().unwrap_err(),
            Runtime::builder().loops(2).build().unwrap_err(),
        )
    });
    for error in [loop_error, runtime_error] {
        assert!(error.is_os(), "{error:?}");
        assert!(!error.is_invalid_setting() && !error.is_unsupported());
        assert_eq!(
            error.os_error().and_then(std::io::Error::raw_os_error),
            Some(libc::EMFILE),
            "{error:?}"
        );
        assert!(error.to_string().contains("refused"), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }
    // With descriptors back, the same calls work.
    drop(EventLoop::new().unwrap());
    Runtime::builder().loops(2).build().unwrap().shutdown();
}
