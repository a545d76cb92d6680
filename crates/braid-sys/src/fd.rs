//! File descriptors: close-on-exec pipes and socket pairs, blocking mode, reads and writes
//! that retry `EINTR`, and the sweep that leaves a fresh child only the descriptors it needs.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::retry;

/// Whether new descriptors can be made close-on-exec from their first instant (`pipe2`,
/// `SOCK_CLOEXEC`). Elsewhere another thread's fork+exec may slip between creating one and
/// marking it.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
))]
mod cloexec {
    pub(super) const LATE: bool = false;
    pub(super) const SOCK_FLAG: libc::c_int = libc::SOCK_CLOEXEC;

    pub(super) fn pipe(fds: &mut [libc::c_int; 2]) -> std::io::Result<()> {
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        unsafe { crate::syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC)) }.map(drop)
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
)))]
mod cloexec {
    pub(super) const LATE: bool = true;
    pub(super) const SOCK_FLAG: libc::c_int = 0;

    pub(super) fn pipe(fds: &mut [libc::c_int; 2]) -> std::io::Result<()> {
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        unsafe { crate::syscall!(pipe(fds.as_mut_ptr())) }.map(drop)
    }
}

/// Takes ownership of the two descriptors a successful `pipe`/`socketpair` wrote.
fn own_pair(fds: [RawFd; 2]) -> (OwnedFd, OwnedFd) {
    // SAFETY: the kernel just created these two descriptors for this call alone, so nothing
    // else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Marks a new pair close-on-exec where the system could not make it so at once.
fn mark_late(pair: (OwnedFd, OwnedFd)) -> io::Result<(OwnedFd, OwnedFd)> {
    if cloexec::LATE {
        set_cloexec(pair.0.as_raw_fd(), true)?;
        set_cloexec(pair.1.as_raw_fd(), true)?;
    }
    Ok(pair)
}

/// A one-way pipe: `(read end, write end)`, both close-on-exec and blocking.
///
/// # Errors
///
/// What `pipe(2)` reports, usually `EMFILE`/`ENFILE` when no descriptor is left.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    cloexec::pipe(&mut fds)?;
    mark_late(own_pair(fds))
}

/// Whether this system has [`packet_pipe`]s.
pub const HAS_PACKET_PIPES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// The largest write a [`packet_pipe`] keeps as one packet: `PIPE_BUF`, which is also the
/// largest write any pipe takes all or nothing.
pub const PACKET_MAX: usize = libc::PIPE_BUF;

/// Whether a [`packet_pipe`] of this process has passed the test that its packets stay
/// apart.
#[cfg(any(target_os = "linux", target_os = "android"))]
static PACKETS_KEPT_APART: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A pipe in packet mode (Linux's `O_DIRECT` pipes): `(read end, write end)`, both
/// close-on-exec and blocking. Each write of at most [`PACKET_MAX`] bytes is one packet, and
/// each read returns at most one packet, so two processes reading the same pipe each get
/// whole messages, never parts of one. A longer write is cut into several packets. A read
/// into a buffer shorter than the packet loses the rest of the packet: read with at least
/// [`PACKET_MAX`] bytes of room.
///
/// # Errors
///
/// `Unsupported` where the system has no packet pipes (every system but Linux), or where a
/// test of two writes shows that the pipe does not keep them apart; otherwise what
/// `pipe2(2)` reports.
pub fn packet_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut fds = [-1 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        unsafe { crate::syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT)) }?;
        let (read_end, write_end) = own_pair(fds);
        // A kernel (or a sandbox in front of one) may take the flag and still merge writes:
        // two one-byte writes must come back as two reads. The kernel stays the same for
        // the life of the process, so one pipe that passed vouches for the rest (a pool
        // makes one for each worker it starts).
        if PACKETS_KEPT_APART.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok((read_end, write_end));
        }
        write(write_end.as_raw_fd(), &[1])?;
        write(write_end.as_raw_fd(), &[2])?;
        let mut two = [0u8; 2];
        let first = read(read_end.as_raw_fd(), &mut two)?;
        let second = if first == 1 {
            read(read_end.as_raw_fd(), &mut two)?
        } else {
            0
        };
        if (first, second) != (1, 1) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's pipes do not keep packets apart",
            ));
        }
        PACKETS_KEPT_APART.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok((read_end, write_end))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this system has no packet-mode pipes",
        ))
    }
}

/// Blocks until `fd` is readable (or at end of file, or in error), retrying `EINTR`: how a
/// reader of a non-blocking descriptor waits without spinning.
///
/// # Errors
///
/// What `poll(2)` reports.
pub fn wait_readable(fd: RawFd) -> io::Result<()> {
    wait_for(fd, libc::POLLIN, None).map(drop)
}

/// Blocks until `poll(2)` reports one of `events` (or an error or hang-up) on `fd`, or
/// `timeout` passes: `Ok(true)` for an event, `Ok(false)` for the time-out. Retries
/// `EINTR` (with the whole time-out again: a caller that waits in a loop does not mind).
fn wait_for(fd: RawFd, events: libc::c_short, timeout: Option<Duration>) -> io::Result<bool> {
    let mut entry = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let millis = timeout.map_or(-1, |t| {
        // Rounded up, so that a short wait is not a busy one.
        let ms = t.as_nanos().div_ceil(1_000_000);
        libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
    });
    // SAFETY: `entry` is one valid pollfd for the whole call.
    retry(|| unsafe { crate::syscall!(poll(&mut entry, 1, millis)) }).map(|n| n > 0)
}

/// Blocks until the peer of the stream socket `fd` has closed or shut down its sending half
/// (or the connection failed), whatever unread data waits: how a worker busy with a task
/// notices that its parent went away. Retries `EINTR`.
///
/// Linux reports a peer's shutdown through `POLLRDHUP`; other systems have no such event for
/// a socket that still holds unread data, and there this returns `Unsupported` at once.
///
/// # Errors
///
/// What `poll(2)` reports; `Unsupported` outside Linux and Android.
pub fn wait_peer_closed(fd: RawFd) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        wait_for(fd, libc::POLLRDHUP, None).map(drop)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// [`wait_peer_closed`] for at most `timeout`: `Ok(true)` once the peer has closed (or
/// the connection failed), `Ok(false)` when the time ran out first. Outside Linux and
/// Android, where no event tells a peer's shutdown, only a failed or hung-up connection
/// ends the wait early.
///
/// # Errors
///
/// What `poll(2)` reports.
pub fn wait_peer_closed_for(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let events = libc::POLLRDHUP;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let events = 0;
    wait_for(fd, events, Some(timeout))
}

/// Sets how long data sent on the TCP socket `fd` may stay unacknowledged before the
/// connection is dropped (`TCP_USER_TIMEOUT`, Linux and Android): a peer whose machine has
/// gone, or whose network has, is noticed then instead of after the kernel's retries of
/// many minutes. Elsewhere it does nothing and says `Unsupported`.
///
/// # Errors
///
/// What `setsockopt(2)` reports; `Unsupported` outside Linux and Android.
pub fn set_tcp_user_timeout(fd: RawFd, timeout: Duration) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let millis = libc::c_uint::try_from(timeout.as_millis()).unwrap_or(libc::c_uint::MAX);
        // SAFETY: the option value is a c_uint that lives for the call, with its size.
        unsafe {
            crate::syscall!(setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                (&millis as *const libc::c_uint).cast(),
                std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
            ))
        }
        .map(drop)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (fd, timeout);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Fills `buf` with bytes from the system's cryptographically secure random source.
///
/// The kernel is asked directly: `getrandom(2)` on Linux, Android and FreeBSD,
/// `getentropy(2)` on Apple systems and the other BSDs, and `/dev/urandom` only elsewhere.
/// A system call needs no descriptor, so it works in a process that has run out of them
/// (where opening a file fails with `EMFILE`), inside a chroot without `/dev`, and without
/// the cost of an open and a close on every call. It never blocks once the system has
/// booted.
///
/// # Errors
///
/// What the system call reports (not `EINTR`, which is retried); where `/dev/urandom` is
/// used, the error of opening or reading it.
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    os_random(buf)
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
fn os_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes for the call; the flags
        // ask for the default source, which blocks only until it is first seeded.
        let got = retry(|| unsafe {
            crate::syscall!(getrandom(rest.as_mut_ptr().cast(), rest.len(), 0))
        })?;
        // A large request may come back short (and one interrupted by a signal after it
        // started, too): ask again for the rest.
        filled += got as usize;
    }
    Ok(())
}

#[cfg(any(target_vendor = "apple", target_os = "openbsd", target_os = "netbsd"))]
fn os_random(buf: &mut [u8]) -> io::Result<()> {
    // getentropy refuses a request of more than 256 bytes, and fills a smaller one whole.
    for chunk in buf.chunks_mut(256) {
        // SAFETY: `chunk` is valid for writes of `chunk.len()` bytes, at most 256.
        retry(|| unsafe { crate::syscall!(getentropy(chunk.as_mut_ptr().cast(), chunk.len())) })?;
    }
    Ok(())
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_vendor = "apple",
    target_os = "openbsd",
    target_os = "netbsd"
)))]
fn os_random(buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// A connected pair of Unix stream sockets, both close-on-exec and blocking.
///
/// # Errors
///
/// What `socketpair(2)` reports, usually `EMFILE`/`ENFILE` when no descriptor is left.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    let kind = libc::SOCK_STREAM | cloexec::SOCK_FLAG;
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    unsafe { crate::syscall!(socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr())) }?;
    mark_late(own_pair(fds))
}

/// Shuts down the sending half of the socket `fd`: the peer reads end of file once it has
/// read what was sent, while this end can still receive.
///
/// # Errors
///
/// `ENOTCONN` when the socket is not connected, `EBADF`/`ENOTSOCK` for a descriptor that is
/// not a socket.
pub fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: shutdown reads nothing from memory; `fd` is open for the borrow.
    unsafe { crate::syscall!(shutdown(fd.as_raw_fd(), libc::SHUT_WR)) }.map(drop)
}

/// Sets or clears `FD_CLOEXEC` on `fd`. Async-signal-safe, so a forked child may call it
/// before `exec`.
///
/// # Errors
///
/// `EBADF` when `fd` is not open.
pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    set_flag(fd, (libc::F_GETFD, libc::F_SETFD), libc::FD_CLOEXEC, on)
}

/// Turns `O_NONBLOCK` on or off for the open file behind `fd`, leaving its other status flags
/// as they are.
///
/// The flag belongs to the open file, not the descriptor: copies made with `dup` (and the
/// same pipe end in a child) see the change too.
///
/// # Errors
///
/// What `fcntl(2)` reports.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(
        fd.as_raw_fd(),
        (libc::F_GETFL, libc::F_SETFL),
        libc::O_NONBLOCK,
        on,
    )
}

/// Sets or clears `flag` in the word that the `fcntl` commands `get` and `set` read and
/// write, with no second call when it already is as asked.
fn set_flag(
    fd: RawFd,
    (get, set): (libc::c_int, libc::c_int),
    flag: libc::c_int,
    on: bool,
) -> io::Result<()> {
    // SAFETY: F_GETFD and F_GETFL only read a descriptor's flags; a closed `fd` fails with
    // EBADF.
    let flags = unsafe { crate::syscall!(fcntl(fd, get)) }?;
    let wanted = if on { flags | flag } else { flags & !flag };
    if wanted != flags {
        // SAFETY: F_SETFD and F_SETFL change only the flags they name.
        unsafe { crate::syscall!(fcntl(fd, set, wanted)) }?;
    }
    Ok(())
}

/// Grows a pipe's kernel buffer to 1 MiB where the system allows (Linux), so that a large
/// message fits in one write. A failure only costs speed, so it is ignored.
pub fn grow_pipe(fd: BorrowedFd<'_>) {
    #[cfg(target_os = "linux")]
    // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer; a non-pipe fails with EBADF.
    let _ = unsafe { crate::syscall!(fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20)) };
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// Reads into `buf`, retrying `EINTR`. `Ok(0)` is end of file.
///
/// # Errors
///
/// What `read(2)` reports; `WouldBlock` from an empty non-blocking descriptor.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call.
    retry(|| unsafe { crate::syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len())) })
        .map(|n| n as usize)
}

/// Reads into the spare capacity of `buf` and extends it by what was read, retrying
/// `EINTR`. `Ok(0)` is end of file, or no spare capacity.
///
/// # Errors
///
/// As [`read`](fn@read).
pub fn read_to_spare(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    // SAFETY: `spare` is memory owned by `buf`, valid for writes of `spare.len()` bytes.
    let n = retry(|| unsafe { crate::syscall!(read(fd, spare.as_mut_ptr().cast(), spare.len())) })?
        as usize;
    // SAFETY: read(2) initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Writes from `buf`, retrying `EINTR`; may write less than all of it.
///
/// # Errors
///
/// What `write(2)` reports; `WouldBlock` from a full non-blocking descriptor, `BrokenPipe`
/// when the reader is gone (with `SIGPIPE` ignored, as Rust programs start).
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call.
    retry(|| unsafe { crate::syscall!(write(fd, buf.as_ptr().cast(), buf.len())) })
        .map(|n| n as usize)
}

/// Writes all of `buf` to a blocking descriptor.
///
/// # Errors
///
/// As [`write`](fn@write); `WriteZero` if the descriptor takes nothing.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// The number of bytes written to a pipe and not read yet, asked from either end. Linux
/// answers; elsewhere this is `None`.
pub fn unread_bytes(fd: RawFd) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the valid pointer.
        let res = unsafe { crate::syscall!(ioctl(fd, libc::FIONREAD, &mut n)) };
        res.ok().map(|_| n as usize)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        None
    }
}

/// Points standard input at `/dev/null`, so a child reads nothing from its parent's
/// terminal. Async-signal-safe: a forked child may call it.
pub fn stdin_from_null() {
    // SAFETY: the path is a NUL-terminated literal; open has no other precondition.
    let Ok(null) = (unsafe { crate::syscall!(open(c"/dev/null".as_ptr(), libc::O_RDONLY)) }) else {
        return;
    };
    if null != libc::STDIN_FILENO {
        // SAFETY: dup2 onto descriptor 0 and close of the descriptor just opened touch no
        // descriptor anything else owns.
        unsafe {
            let _ = crate::syscall!(dup2(null, libc::STDIN_FILENO));
            let _ = crate::syscall!(close(null));
        }
    }
}

/// Closes every descriptor of this process except stdin, stdout, stderr and `keep`.
///
/// Meant for a fresh child (right after `fork` or `exec`) while it has a single thread, so
/// that it holds no copy of its parent's files, sockets or other children's pipes: with
/// `close_range` where Linux has it, otherwise by listing the open descriptors.
pub fn close_other_fds(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    #[cfg(target_os = "linux")]
    if close_ranges_between(&keep).is_ok() {
        return;
    }
    #[cfg(target_os = "freebsd")]
    close_gaps_then_the_rest(&keep);
    #[cfg(not(target_os = "freebsd"))]
    close_listed(&keep);
}

/// FreeBSD's `/dev/fd` lists only 0 to 2 unless fdescfs is mounted: close the gaps below the
/// highest kept descriptor one by one, and everything above it at once.
#[cfg(target_os = "freebsd")]
fn close_gaps_then_the_rest(keep: &[RawFd]) {
    let mut next = 3;
    for &fd in keep {
        for gap in next..fd {
            // SAFETY: closing a descriptor this single-threaded process does not use.
            let _ = unsafe { crate::syscall!(close(gap)) };
        }
        next = fd + 1;
    }
    // SAFETY: closefrom only closes descriptors, none of which this process still needs.
    unsafe { libc::closefrom(next) };
}

/// Closes every open descriptor the system lists, but 0 to 2 and `keep` (sorted).
#[cfg(not(target_os = "freebsd"))]
fn close_listed(keep: &[RawFd]) {
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
        if fd > 2 && keep.binary_search(&fd).is_err() {
            // SAFETY: closing a descriptor this single-threaded process does not use; the
            // directory iterator's own descriptor is already closed at this point.
            let _ = unsafe { crate::syscall!(close(fd)) };
        }
    }
}

/// `close_range` over every gap between the sorted descriptors in `keep`, from 3 up.
#[cfg(target_os = "linux")]
fn close_ranges_between(keep: &[RawFd]) -> io::Result<()> {
    let mut low: libc::c_uint = 3;
    for &fd in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
        let fd = fd as libc::c_uint;
        if fd > low {
            // SAFETY: close_range only closes descriptors; none in the range is in use by
            // anything this process still needs.
            unsafe { crate::syscall!(syscall(libc::SYS_close_range, low, fd - 1, 0)) }?;
        }
        low = fd.saturating_add(1);
    }
    Ok(())
}

/// Makes sure this process may have `wanted` descriptors open, raising the soft limit
/// (`RLIMIT_NOFILE`) toward the hard one when it is lower; returns the soft limit now in force.
///
/// # Errors
///
/// `InvalidInput` with a message that says how to raise it when even the hard limit is
/// below `wanted`; what `getrlimit`/`setrlimit` report.
// `rlim_t` is `u64` on Linux but `i64` on FreeBSD.
#[allow(clippy::unnecessary_cast)]
pub fn raise_descriptor_limit(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill.
    unsafe { crate::syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut limit)) }?;
    let (soft, hard) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if soft >= wanted {
        return Ok(soft);
    }
    if hard < wanted {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{wanted} open descriptors are needed, but the hard limit on them \
                 (RLIMIT_NOFILE) is {hard}: raise it (as root, `ulimit -Hn {wanted}`; for \
                 good, `nofile` in /etc/security/limits.conf; in Docker, \
                 `--ulimit nofile={wanted}`)"
            ),
        ));
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: a soft limit equal to the hard one is allowed; `limit` is valid.
    if unsafe { crate::syscall!(setrlimit(libc::RLIMIT_NOFILE, &limit)) }.is_err() {
        // macOS refuses an unlimited soft limit: ask for just what is needed.
        limit.rlim_cur = wanted as libc::rlim_t;
        // SAFETY: as above, with a soft limit below the hard one.
        unsafe { crate::syscall!(setrlimit(libc::RLIMIT_NOFILE, &limit)) }?;
    }
    Ok(limit.rlim_cur as u64)
}

/// Room for a control message of up to 16 descriptors, aligned for `cmsghdr`.
type ControlBuffer = [u64; 12];

/// The control-data length of `n` descriptors (`CMSG_LEN`), and the room it takes
/// (`CMSG_SPACE`).
fn fd_control_sizes(n: usize) -> (usize, usize) {
    assert!(n <= 16, "at most 16 descriptors travel in one message");
    let data = (n * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_LEN and CMSG_SPACE only compute sizes.
    unsafe {
        (
            libc::CMSG_LEN(data) as usize,
            libc::CMSG_SPACE(data) as usize,
        )
    }
}

/// A message header over one byte in `iov` and `space` bytes of `control`; the caller keeps
/// both in place (on its stack) for as long as the header is used.
fn fd_message(iov: &mut libc::iovec, control: &mut ControlBuffer, space: usize) -> libc::msghdr {
    debug_assert!(space <= std::mem::size_of::<ControlBuffer>());
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    msg
}

/// Sends `bytes` over the Unix stream socket `socket`, in one `sendmsg`, with the
/// descriptor `fd` attached; the receiver gets its own copy with the first of these bytes
/// ([`recv_with_any_fds`]). Retries `EINTR`.
///
/// # Errors
///
/// What `sendmsg(2)` reports; `WouldBlock` from a full non-blocking socket. A short send
/// (only on a non-blocking socket with little room) is an error too: the receiver would get
/// the descriptor with part of the bytes.
pub fn send_bytes_with_fd(socket: RawFd, bytes: &[u8], fd: RawFd) -> io::Result<()> {
    let (len, space) = fd_control_sizes(1);
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    let mut control: ControlBuffer = [0; 12];
    let msg = fd_message(&mut iov, &mut control, space);
    // SAFETY: `msg` describes a control buffer with room for one header and one descriptor
    // (CMSG_SPACE), so the first header and its data lie inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = len as _;
        libc::CMSG_DATA(header).cast::<RawFd>().write_unaligned(fd);
    }
    // SAFETY: `msg` and the bytes, iovec and control buffer it points to live across the
    // call; sendmsg only reads the bytes.
    let sent = retry(|| unsafe { crate::syscall!(sendmsg(socket, &msg, 0)) })? as usize;
    if sent != bytes.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes with a descriptor", bytes.len()),
        ));
    }
    Ok(())
}

/// Reads up to `buf.len()` bytes from the Unix stream socket `socket`, with any descriptors
/// that came attached to them (close-on-exec). `Ok((0, _))` is end of file. Retries `EINTR`.
///
/// # Errors
///
/// What `recvmsg(2)` reports; `WouldBlock` from an empty non-blocking socket.
pub fn recv_with_any_fds(socket: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control: ControlBuffer = [0; 12];
    let mut msg = fd_message(&mut iov, &mut control, std::mem::size_of::<ControlBuffer>());
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = 0;
    // SAFETY: `msg` and the buffers it points to live on this stack frame (and in `buf`)
    // across the call.
    let n = retry(|| unsafe { crate::syscall!(recvmsg(socket, &mut msg, flags)) })? as usize;
    // SAFETY: `recvmsg` just filled `msg`.
    Ok((n, unsafe { received_fds(&msg) }))
}

/// Sends one byte over the Unix socket `socket` with the descriptors `fds` attached; the
/// receiver gets its own copies. Retries `EINTR`.
///
/// # Errors
///
/// What `sendmsg(2)` reports; `WouldBlock` from a full non-blocking socket.
///
/// # Panics
///
/// If more than 16 descriptors are given.
pub fn send_with_fds<const N: usize>(socket: RawFd, fds: &[RawFd; N]) -> io::Result<()> {
    let (len, space) = fd_control_sizes(N);
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control: ControlBuffer = [0; 12];
    let msg = fd_message(&mut iov, &mut control, space);
    // SAFETY: `msg` describes a control buffer with room for one header and N descriptors
    // (CMSG_SPACE), so the first header and its data lie inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = len as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast::<RawFd>(), N);
    }
    // SAFETY: `msg` and the byte, iovec and control buffer it points to live on this stack
    // frame across the call.
    retry(|| unsafe { crate::syscall!(sendmsg(socket, &msg, 0)) })?;
    Ok(())
}

/// Receives one byte and exactly `N` descriptors (close-on-exec) from the Unix socket
/// `socket`; `Ok(None)` at end of stream. Retries `EINTR`.
///
/// # Errors
///
/// What `recvmsg(2)` reports, and `InvalidData` for a message that does not carry exactly
/// `N` descriptors; whatever descriptors it did carry are closed.
///
/// # Panics
///
/// If more than 16 descriptors are asked for.
pub fn recv_with_fds<const N: usize>(socket: RawFd) -> io::Result<Option<[OwnedFd; N]>> {
    // Checks N; the whole buffer is offered below.
    fd_control_sizes(N);
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for more than asked, so that extra descriptors arrive (and are closed) rather
    // than being cut off.
    let mut control: ControlBuffer = [0; 12];
    let mut msg = fd_message(&mut iov, &mut control, std::mem::size_of::<ControlBuffer>());
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = 0;
    // SAFETY: `msg` and the buffers it points to live on this stack frame across the call.
    if retry(|| unsafe { crate::syscall!(recvmsg(socket, &mut msg, flags)) })? == 0 {
        return Ok(None);
    }
    // SAFETY: `recvmsg` just filled `msg`.
    let received = unsafe { received_fds(&msg) };
    let truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    match <[OwnedFd; N]>::try_from(received) {
        Ok(fds) if !truncated => Ok(Some(fds)),
        // Dropping what arrived closes it.
        Ok(_) | Err(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message that should carry {N} descriptors came with another number"),
        )),
    }
}

/// Marks one received descriptor close-on-exec where `MSG_CMSG_CLOEXEC` does not exist.
/// The descriptors an `SCM_RIGHTS` message brought, owned (and close-on-exec) now.
///
/// # Safety
///
/// `msg` was just filled by a successful `recvmsg`, and its control buffer is still in
/// place: CMSG_FIRSTHDR and CMSG_NXTHDR then return null or a header inside it, whose data
/// holds `cmsg_len` bytes, and SCM_RIGHTS data is descriptors nobody else owns yet.
unsafe fn received_fds(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut received = Vec::new();
    // SAFETY: the caller's promise above.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                let bytes = (*header).cmsg_len as usize - (data as usize - header as usize);
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    received.push(mark_late_one(OwnedFd::from_raw_fd(
                        data.add(i).read_unaligned(),
                    )));
                }
            }
            header = libc::CMSG_NXTHDR(msg, header);
        }
    }
    received
}

fn mark_late_one(fd: OwnedFd) -> OwnedFd {
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let _ = set_cloexec(fd.as_raw_fd(), true);
    fd
}

#[cfg(test)]
mod test {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn waiting_for_a_peer_to_close_times_out_then_sees_the_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let theirs = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        assert!(!wait_peer_closed_for(ours.as_raw_fd(), Duration::from_millis(20)).unwrap());
        drop(theirs);
        assert!(wait_peer_closed_for(ours.as_raw_fd(), Duration::from_secs(30)).unwrap());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_tcp_user_timeout_is_set() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_tcp_user_timeout(stream.as_raw_fd(), Duration::from_millis(1500)).unwrap();
        let mut value: libc::c_uint = 0;
        let mut len = std::mem::size_of::<libc::c_uint>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid out-pointers of the right size.
        unsafe {
            crate::syscall!(getsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                (&mut value as *mut libc::c_uint).cast(),
                &mut len,
            ))
        }
        .unwrap();
        assert_eq!(value, 1500);
    }

    fn is_cloexec(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only reads flags.
        let flags = unsafe { crate::syscall!(fcntl(fd, libc::F_GETFD)) }.unwrap();
        flags & libc::FD_CLOEXEC != 0
    }

    fn is_nonblocking(fd: RawFd) -> bool {
        // SAFETY: F_GETFL only reads flags.
        let flags = unsafe { crate::syscall!(fcntl(fd, libc::F_GETFL)) }.unwrap();
        flags & libc::O_NONBLOCK != 0
    }

    #[test]
    fn random_bytes_differ_between_calls_and_fill_a_large_buffer() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        random_bytes(&mut a).unwrap();
        random_bytes(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
        // More than one getrandom call returns at once (32 MiB) or one getentropy takes
        // (256 bytes): every part of it is filled, the end included.
        let mut big = vec![0u8; 1 << 20];
        random_bytes(&mut big).unwrap();
        for (i, chunk) in big.chunks(4096).enumerate() {
            assert!(chunk.iter().any(|&b| b != 0), "chunk {i} was left zero");
        }
        random_bytes(&mut []).unwrap();
    }

    /// Run again as its own process (the limit is the whole process's): with no descriptor
    /// left to open, random bytes still come.
    #[cfg(target_os = "linux")]
    #[test]
    fn random_bytes_need_no_descriptor() {
        const CHILD: &str = "BRAID_SYS_TEST_RANDOM_WITHOUT_DESCRIPTORS";
        if std::env::var_os(CHILD).is_some() {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `limit` is a valid rlimit for the calls to write, then read.
            let lowered = unsafe {
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                limit.rlim_cur = 0;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit)
            };
            assert_eq!(lowered, 0, "{}", io::Error::last_os_error());
            assert!(std::fs::File::open("/dev/null").is_err());
            let mut bytes = [0u8; 64];
            random_bytes(&mut bytes).expect("random bytes without a descriptor");
            assert_ne!(bytes, [0u8; 64]);
            return;
        }
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fd::test::random_bytes_need_no_descriptor"])
            .args(["--test-threads", "1"])
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success(), "{status}");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_peer_shutdown_ends_the_wait_even_with_data_unread() {
        let (ours, theirs) = socket_pair().unwrap();
        write_all(theirs.as_raw_fd(), b"unread").unwrap();
        shutdown_write(theirs.as_fd()).unwrap();
        wait_peer_closed(ours.as_raw_fd()).unwrap();
    }

    #[test]
    fn a_packet_pipe_keeps_each_write_whole_for_either_reader() {
        let (r, w) = packet_pipe().unwrap();
        assert!(is_cloexec(r.as_raw_fd()) && is_cloexec(w.as_raw_fd()));
        for message in [&b"first"[..], b"second message", &[7u8; PACKET_MAX]] {
            assert_eq!(write(w.as_raw_fd(), message).unwrap(), message.len());
        }
        // Two readers of one pipe: each read takes one whole packet, never more.
        let other = r.try_clone().unwrap();
        let mut buf = vec![0u8; 4 * PACKET_MAX];
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"first");
        assert_eq!(read(other.as_raw_fd(), &mut buf).unwrap(), 14);
        assert_eq!(&buf[..14], b"second message");
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), PACKET_MAX);
        set_nonblocking(r.as_fd(), true).unwrap();
        let empty = read(other.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[test]
    fn packet_pipes_are_refused_where_the_system_has_none() {
        assert_eq!(
            packet_pipe().unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
    }

    #[test]
    fn bytes_and_a_descriptor_arrive_together() {
        let (a, b) = socket_pair().unwrap();
        let (r, w) = pipe().unwrap();
        write_all(b.as_raw_fd(), b"plain").unwrap();
        send_bytes_with_fd(b.as_raw_fd(), b"with", w.as_raw_fd()).unwrap();
        drop(w);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        let mut fds = Vec::new();
        while got.len() < 9 {
            let (n, more) = recv_with_any_fds(a.as_raw_fd(), &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            fds.extend(more);
        }
        assert_eq!(got, b"plainwith");
        assert_eq!(fds.len(), 1);
        assert!(is_cloexec(fds[0].as_raw_fd()));
        // The copy is the pipe's write end: what goes in comes out of the read end.
        write_all(fds[0].as_raw_fd(), b"!").unwrap();
        let mut one = [0u8; 1];
        assert_eq!(read(r.as_raw_fd(), &mut one).unwrap(), 1);
        drop(b);
        assert_eq!(recv_with_any_fds(a.as_raw_fd(), &mut buf).unwrap().0, 0);
    }

    #[test]
    fn wait_readable_returns_once_there_is_data_or_an_end() {
        let (r, w) = pipe().unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            write_all(w.as_raw_fd(), b"x").unwrap();
            w
        });
        wait_readable(r.as_raw_fd()).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), 1);
        drop(writer.join().unwrap());
        // At end of file it returns too, rather than block forever.
        wait_readable(r.as_raw_fd()).unwrap();
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn pipes_and_socket_pairs_are_close_on_exec_and_blocking() {
        let (r, w) = pipe().unwrap();
        let (a, b) = socket_pair().unwrap();
        for fd in [&r, &w, &a, &b] {
            assert!(is_cloexec(fd.as_raw_fd()));
            assert!(!is_nonblocking(fd.as_raw_fd()));
        }
        set_cloexec(r.as_raw_fd(), false).unwrap();
        assert!(!is_cloexec(r.as_raw_fd()));
    }

    #[test]
    fn nonblocking_mode_goes_both_ways_and_keeps_other_flags() {
        let (r, w) = pipe().unwrap();
        set_nonblocking(r.as_fd(), true).unwrap();
        assert!(is_nonblocking(r.as_raw_fd()));
        let mut buf = [0u8; 4];
        assert_eq!(
            read(r.as_raw_fd(), &mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        set_nonblocking(r.as_fd(), false).unwrap();
        assert!(!is_nonblocking(r.as_raw_fd()));
        write_all(w.as_raw_fd(), b"ab").unwrap();
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), 2);
    }

    #[test]
    fn reads_fill_spare_capacity_and_see_end_of_file() {
        let (r, w) = pipe().unwrap();
        write_all(w.as_raw_fd(), b"hello").unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(unread_bytes(r.as_raw_fd()), Some(5));
        drop(w);
        let mut buf = Vec::with_capacity(16);
        buf.extend_from_slice(b">");
        assert_eq!(read_to_spare(r.as_raw_fd(), &mut buf).unwrap(), 5);
        assert_eq!(buf, b">hello");
        assert_eq!(read_to_spare(r.as_raw_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn descriptors_travel_over_a_socket_and_arrive_close_on_exec() {
        let (a, b) = socket_pair().unwrap();
        let (r, w) = pipe().unwrap();
        send_with_fds(a.as_raw_fd(), &[r.as_raw_fd(), w.as_raw_fd()]).unwrap();
        let [r2, w2] = recv_with_fds::<2>(b.as_raw_fd()).unwrap().unwrap();
        assert!(is_cloexec(r2.as_raw_fd()) && is_cloexec(w2.as_raw_fd()));
        write_all(w2.as_raw_fd(), b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(read(r.as_raw_fd(), &mut buf).unwrap(), 1);

        // A plain byte with nothing attached is refused, not read as descriptors.
        write_all(a.as_raw_fd(), b"?").unwrap();
        let error = recv_with_fds::<2>(b.as_raw_fd()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);

        // One descriptor where two are expected is refused, and the one that came is closed.
        #[cfg(target_os = "linux")]
        let open_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
        send_with_fds(a.as_raw_fd(), &[r.as_raw_fd()]).unwrap();
        let error = recv_with_fds::<2>(b.as_raw_fd()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        #[cfg(target_os = "linux")]
        assert_eq!(
            std::fs::read_dir("/proc/self/fd").unwrap().count(),
            open_before,
            "the descriptor that came with the refused message was left open"
        );
        drop(a);
        assert!(recv_with_fds::<2>(b.as_raw_fd()).unwrap().is_none());
    }

    #[test]
    fn a_descriptor_limit_past_the_hard_one_is_refused_with_the_fix() {
        let now = raise_descriptor_limit(0).unwrap();
        assert!(now > 3, "a soft limit of {now}");
        let error = raise_descriptor_limit(u64::MAX).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("ulimit -Hn"), "{error}");
    }

    #[test]
    fn a_fresh_child_keeps_only_the_descriptors_it_names() {
        let (keep_r, keep_w) = pipe().unwrap();
        let (other_r, other_w) = pipe().unwrap();
        let (far, _far_peer) = socket_pair().unwrap();
        // A descriptor above 1024, past the fallback sweep's reach.
        // SAFETY: F_DUPFD makes a new descriptor at or above 1500, owned below.
        let high = unsafe { crate::syscall!(fcntl(far.as_raw_fd(), libc::F_DUPFD, 1500)) };
        // SAFETY: the kernel just made it for this call.
        let high = high.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        let is_open = |fd: RawFd| {
            // SAFETY: F_GETFD only reads flags; a closed descriptor fails with EBADF.
            unsafe { crate::syscall!(fcntl(fd, libc::F_GETFD)) }.is_ok()
        };
        let keep = [keep_w.as_raw_fd()];
        // SAFETY: the child calls only async-signal-safe functions after the sweep (fcntl,
        // exit_now); the sweep's own listing is allowed by its contract for a fresh child.
        let child = match unsafe { crate::process::fork() }.unwrap() {
            Some(pid) => pid,
            None => {
                close_other_fds(&keep);
                let mut code = 0;
                if !is_open(keep_w.as_raw_fd()) || !is_open(1) {
                    code |= 1;
                }
                for fd in [
                    keep_r.as_raw_fd(),
                    other_r.as_raw_fd(),
                    other_w.as_raw_fd(),
                    far.as_raw_fd(),
                ] {
                    if is_open(fd) {
                        code |= 2;
                    }
                }
                if let Ok(high) = &high {
                    if is_open(high.as_raw_fd()) {
                        code |= 4;
                    }
                }
                crate::process::exit_now(code);
            }
        };
        let status = crate::process::wait_pid(child, true).unwrap().unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "1: a kept descriptor closed, 2: another left open, 4: one above 1024 left open"
        );
    }

    #[test]
    fn a_bad_descriptor_is_an_error_not_a_panic() {
        let mut buf = [0u8; 1];
        assert_eq!(
            read(-1, &mut buf).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        assert_eq!(
            write(-1, b"x").unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        assert!(set_cloexec(-1, true).is_err());
    }
}
