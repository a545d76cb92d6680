//! Running this program's executable again, as a worker or as the fork server.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use braid_sys::process;

use crate::protocol::role::Role;

/// Runs this executable again as a worker.
pub(super) fn spawn(exe: &Path, task: &OwnedFd, result: &OwnedFd) -> io::Result<u32> {
    run_again(
        exe,
        Role::Worker {
            task: task.as_raw_fd(),
            result: result.as_raw_fd(),
            parent: std::process::id(),
        },
    )
}

/// Runs this program's executable to take `role`, with the role's descriptors inherited
/// (under new numbers, which the role it is told carries) and no standard input; returns
/// its pid. The caller reaps it.
///
/// `posix_spawn`, not `fork` and `exec`: a pool's start then does not copy this process's
/// page tables per worker, which took longer the more memory the program held.
pub(super) fn run_again(exe: &Path, role: Role) -> io::Result<u32> {
    // The program's own `argv[0]`, so that it shows under its usual name in `ps`.
    let argv0 = std::env::args_os().next();
    let argv: Vec<&std::ffi::OsStr> = argv0.iter().map(|a| a.as_os_str()).collect();
    process::spawn(exe, &argv, &role.descriptors(), |numbers| {
        role.renumbered(numbers)
            .env()
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect()
    })
}
