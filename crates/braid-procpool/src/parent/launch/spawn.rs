//! Running this program's executable again, as a worker or as the fork server.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use braid_sys::fd;

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

/// Runs this program's executable to take `role`, with the role's descriptors kept open
/// across `exec` and no standard input; returns its pid. The caller reaps it: `Child`
/// neither waits nor kills on drop.
pub(super) fn run_again(exe: &Path, role: Role) -> io::Result<u32> {
    let inherit = role.descriptors();
    let mut command = Command::new(exe);
    command.envs(role.env()).stdin(Stdio::null());
    if let Some(name) = std::env::args_os().next() {
        command.arg0(name);
    }
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, so it may run in the
    // child between fork and exec; `inherit` was allocated before the fork.
    unsafe {
        command.pre_exec(move || {
            inherit
                .iter()
                .try_for_each(|&fd| fd::set_cloexec(fd, false))
        });
    }
    Ok(command.spawn()?.id())
}
