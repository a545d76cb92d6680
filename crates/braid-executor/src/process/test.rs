use std::process::Stdio;
use std::time::{Duration, Instant};

use super::exit::try_reap;
use super::orphan;

/// Repeats `done` until it holds; panics after a generous hang guard.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn try_reap_waits_only_for_its_own_pid_and_never_blocks() {
    // Not our child: nothing to wait for, reported as done rather than as an error.
    assert!(try_reap(1).unwrap());
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(!try_reap(pid).unwrap(), "cat was reaped while it still ran");
    drop(child.stdin.take());
    eventually("reaping cat", || try_reap(pid).unwrap());
    // Reaped: std's handle now finds no child to wait for.
    assert!(child.wait().is_err());
}

#[test]
fn an_abandoned_child_is_reaped_by_a_later_sweep() {
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdin = child.stdin.take();
    orphan::abandon(child);
    orphan::reap();
    assert!(
        !try_reap(pid).unwrap(),
        "the sweep should not have found cat finished"
    );
    drop(stdin);
    eventually("cat ending", || {
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writes; WNOWAIT leaves the child to the sweep.
        let result = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        assert_eq!(result, 0, "cat was reaped before the sweep");
        // SAFETY: waitid succeeded, so `info` is initialised.
        (unsafe { info.si_pid() }) != 0
    });
    orphan::reap();
    // ECHILD: the sweep reaped it.
    // SAFETY: waitpid on one pid, with a valid out-pointer, WNOHANG so it cannot block.
    let result = unsafe { libc::waitpid(pid as libc::pid_t, &mut 0, libc::WNOHANG) };
    assert_eq!(result, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ECHILD)
    );
}
