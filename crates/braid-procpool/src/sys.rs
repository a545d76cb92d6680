//! The few Unix calls the pool makes, each turned into an `io::Result` in one place.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Calls a libc function and turns `-1` into the thread's `errno` as an `io::Error`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: every use passes arguments that satisfy the called function's contract;
        // the call sites explain the non-obvious ones.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// A one-way pipe: `(read end, write end)`, both close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        syscall!(pipe(fds.as_mut_ptr()))?;
        for fd in fds {
            set_cloexec(fd, true)?;
        }
    }
    // SAFETY: the kernel just gave us these two descriptors and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A connected pair of Unix stream sockets, both close-on-exec.
pub(crate) fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    syscall!(socketpair(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
        0,
        fds.as_mut_ptr()
    ))?;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        syscall!(socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            0,
            fds.as_mut_ptr()
        ))?;
        for fd in fds {
            set_cloexec(fd, true)?;
        }
    }
    // SAFETY: the kernel just gave us these two descriptors and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets or clears `FD_CLOEXEC`. Async-signal-safe, so a forked child may call it.
pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    let flags = syscall!(fcntl(fd, libc::F_GETFD))?;
    let wanted = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    if wanted != flags {
        syscall!(fcntl(fd, libc::F_SETFD, wanted))?;
    }
    Ok(())
}

/// Puts a descriptor in non-blocking mode (the supervisor's side of every pipe).
pub(crate) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    let flags = syscall!(fcntl(raw, libc::F_GETFL))?;
    if flags & libc::O_NONBLOCK == 0 {
        syscall!(fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// Grows a pipe's kernel buffer so that a typical chunk fits in one write.
#[cfg(target_os = "linux")]
pub(crate) fn grow_pipe(fd: &OwnedFd) {
    // A failure only costs speed (the default 64 KiB buffer stays), so it is ignored.
    let _ = syscall!(fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20));
}

/// Grows a pipe's kernel buffer; other systems size pipes on their own.
#[cfg(not(target_os = "linux"))]
pub(crate) fn grow_pipe(_fd: &OwnedFd) {}

/// Runs `call` again for as long as a signal interrupts it (`EINTR`).
pub(crate) fn retry<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// Reads into `buf`, retrying `EINTR`. `Ok(0)` is end of file.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // `buf` is valid for writes of `buf.len()` bytes.
    retry(|| syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len()))).map(|n| n as usize)
}

/// Reads into the spare capacity of `buf` and extends it by what was read, retrying
/// `EINTR`. `Ok(0)` is end of file (or no spare capacity).
pub(crate) fn read_to_spare(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    // `spare` is writable memory of `spare.len()` bytes owned by `buf`.
    let n = retry(|| syscall!(read(fd, spare.as_mut_ptr().cast(), spare.len())))? as usize;
    // SAFETY: read(2) initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Writes from `buf`, retrying `EINTR`; may write less than all of it.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // `buf` is valid for reads of `buf.len()` bytes.
    retry(|| syscall!(write(fd, buf.as_ptr().cast(), buf.len()))).map(|n| n as usize)
}

/// Writes all of `buf` to a blocking descriptor.
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// The number of bytes written to a pipe and not read yet (Linux, from either end).
#[cfg(target_os = "linux")]
pub(crate) fn unread_bytes(fd: RawFd) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the valid pointer.
    let res = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    (res == 0).then_some(n as usize)
}

/// Elsewhere the pool does not ask, and assumes a worker read what it was sent.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unread_bytes(_fd: RawFd) -> Option<usize> {
    None
}

/// How a process ended, decoded from a `waitpid` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExitStatus {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
}

impl ExitStatus {
    /// A process that ended in a way nobody could learn (it was reaped elsewhere).
    pub(crate) const UNKNOWN: ExitStatus = ExitStatus {
        code: None,
        signal: None,
    };

    pub(crate) fn from_raw(status: libc::c_int) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus {
                code: Some(libc::WEXITSTATUS(status)),
                signal: None,
            }
        } else if libc::WIFSIGNALED(status) {
            ExitStatus {
                code: None,
                signal: Some(libc::WTERMSIG(status)),
            }
        } else {
            ExitStatus::UNKNOWN
        }
    }

    /// The status as a single number for the fork server's wire format.
    pub(crate) fn to_wire(self) -> i32 {
        match (self.code, self.signal) {
            (Some(code), _) => code & 0xff,
            (None, Some(signal)) => 0x100 | (signal & 0xff),
            (None, None) => 0x200,
        }
    }

    pub(crate) fn from_wire(raw: i32) -> ExitStatus {
        match raw >> 8 {
            0 => ExitStatus {
                code: Some(raw & 0xff),
                signal: None,
            },
            1 => ExitStatus {
                code: None,
                signal: Some(raw & 0xff),
            },
            _ => ExitStatus::UNKNOWN,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "signal {signal}"),
            _ => f.write_str("unknown status"),
        }
    }
}

/// Waits for a child to end; `Ok(None)` when `block` is false and it has not ended yet.
pub(crate) fn wait_pid(pid: u32, block: bool) -> io::Result<Option<ExitStatus>> {
    Ok(wait(pid as libc::pid_t, block)?.map(|(_, status)| status))
}

/// Waits for any child to end: its pid and how it ended; `Ok(None)` when `block` is false
/// and none has ended yet, and an error (`ECHILD`) when there is no child left.
pub(crate) fn wait_any(block: bool) -> io::Result<Option<(u32, ExitStatus)>> {
    wait(-1, block)
}

fn wait(pid: libc::pid_t, block: bool) -> io::Result<Option<(u32, ExitStatus)>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    let mut status = 0;
    // `status` is a valid out-pointer.
    let ended = retry(|| syscall!(waitpid(pid, &mut status, flags)))?;
    Ok((ended > 0).then(|| (ended as u32, ExitStatus::from_raw(status))))
}

/// Sends `SIGKILL`. A process that is already gone is not an error.
pub(crate) fn kill(pid: u32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// A descriptor that becomes readable when the process ends (Linux 5.3 and later).
#[cfg(target_os = "linux")]
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor (close-on-exec by default) to us alone.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Other systems watch the end of a worker through its result pipe instead.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pidfd_open(_pid: u32) -> Option<OwnedFd> {
    None
}

/// Closes every descriptor of this process except stdin, stdout, stderr and `keep`.
///
/// Called in a fresh worker, where no other thread exists, so that a worker holds no copy of
/// the parent's files, sockets or other workers' pipes.
pub(crate) fn close_other_fds(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    #[cfg(target_os = "linux")]
    {
        let mut low: libc::c_uint = 3;
        let mut ok = true;
        for &fd in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
            let fd = fd as libc::c_uint;
            if fd > low {
                // SAFETY: close_range only closes descriptors; none in the range is in use
                // by anything this process still needs.
                let res = unsafe { libc::syscall(libc::SYS_close_range, low, fd - 1, 0) };
                if res != 0 {
                    ok = false;
                    break;
                }
            }
            low = fd.saturating_add(1);
        }
        if ok {
            return;
        }
    }
    let dir = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    let open: Vec<RawFd> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (3..1024).collect(),
    };
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing a descriptor this single-threaded process does not use; the
            // directory iterator's own descriptor is already closed at this point.
            unsafe {
                libc::close(fd);
            }
        }
    }
}

/// Asks the kernel to kill this process when the thread that created it ends (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn die_with_parent() {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; no memory is touched.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
}

/// Elsewhere a worker notices its parent's end through its closed task pipe.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn die_with_parent() {}
