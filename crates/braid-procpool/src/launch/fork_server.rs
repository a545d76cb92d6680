//! The fork server: a clean, single-threaded copy of the program that forks workers.
//!
//! The supervisor and the server talk over a Unix stream socket. To start a worker the
//! supervisor sends one byte carrying the worker's two pipe ends (`SCM_RIGHTS`); the server
//! forks, and answers `Forked(pid)`. When a worker ends, the server reaps it and reports
//! `Exited(pid, status)`: only a parent can learn a process's exit status. Each report is
//! 9 bytes: a tag, a little-endian `u32` pid and an `i32` status. When the socket closes, the
//! server waits for its remaining workers (they end when their task pipes close) and exits.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use super::ServerEvent;
use crate::sys::{self, ExitStatus};
use crate::worker;

const FORKED: u8 = b'F';
const EXITED: u8 = b'X';
const REPORT_LEN: usize = 9;

/// The supervisor's end of a running fork server.
#[derive(Debug)]
pub(crate) struct Client {
    control: OwnedFd,
    pid: u32,
    buf: Vec<u8>,
}

impl Client {
    /// Runs this executable as a fork server.
    pub(crate) fn start(exe: &Path) -> io::Result<Client> {
        let (control, server_end) = sys::socket_pair()?;
        let server_fd = server_end.as_raw_fd();
        let pid = super::run_again(
            exe,
            worker::FORK_SERVER_ENV,
            format!("{server_fd}:{}", std::process::id()),
            [server_fd],
        )?;
        drop(server_end);
        sys::set_nonblocking(&control)?;
        Ok(Client {
            control,
            pid,
            buf: Vec::new(),
        })
    }

    pub(crate) fn control(&self) -> BorrowedFd<'_> {
        self.control.as_fd()
    }

    /// Asks for a worker that serves on these pipe ends.
    pub(crate) fn request(&mut self, task: &OwnedFd, result: &OwnedFd) -> io::Result<()> {
        let fds = [task.as_raw_fd(), result.as_raw_fd()];
        // The socket is non-blocking for the supervisor's reads; a request is one byte, so a
        // full socket buffer means a stuck server, given a moment to catch up.
        for _ in 0..1000 {
            match send_fds(self.control.as_raw_fd(), &fds) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                other => return other,
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the fork server stopped taking requests",
        ))
    }

    /// Reads every complete report; `Ok(false)` when the server closed its end.
    pub(crate) fn read_events(&mut self, out: &mut Vec<ServerEvent>) -> io::Result<bool> {
        let mut open = true;
        let mut chunk = [0u8; 512];
        loop {
            match sys::read(self.control.as_raw_fd(), &mut chunk) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let whole = self.buf.len() / REPORT_LEN * REPORT_LEN;
        for report in self.buf[..whole].chunks_exact(REPORT_LEN) {
            let pid = u32::from_le_bytes(report[1..5].try_into().unwrap());
            let status = i32::from_le_bytes(report[5..9].try_into().unwrap());
            match report[0] {
                FORKED => out.push(ServerEvent::Forked(pid)),
                EXITED => out.push(ServerEvent::Exited(pid, ExitStatus::from_wire(status))),
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "garbled fork server report",
                    ))
                }
            }
        }
        self.buf.drain(..whole);
        Ok(open)
    }

    /// Closes the socket, which tells the server to finish, and reaps it.
    pub(crate) fn close(self) {
        drop(self.control);
        let _ = sys::wait_pid(self.pid, true);
    }
}

/// Sends one byte with two descriptors attached.
fn send_fds(socket: RawFd, fds: &[RawFd; 2]) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = ControlBuffer::new();
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr().cast();
    msg.msg_controllen = control.space as _;
    // SAFETY: `msg` describes a control buffer with room for one header and two descriptors
    // (CMSG_SPACE), so the first header and its data lie inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(mem::size_of_val(fds) as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast::<RawFd>(), 2);
    }
    // `msg` and every buffer it points to live across the call.
    sys::retry(|| sys::syscall!(sendmsg(socket, &msg, 0)))?;
    Ok(())
}

/// Receives one byte and the two descriptors attached to it; `Ok(None)` at end of stream.
fn recv_fds(socket: RawFd) -> io::Result<Option<[OwnedFd; 2]>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = ControlBuffer::new();
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr().cast();
    msg.msg_controllen = control.space as _;
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = 0;
    // `msg` and every buffer it points to live across the call.
    if sys::retry(|| sys::syscall!(recvmsg(socket, &mut msg, flags)))? == 0 {
        return Ok(None);
    }
    // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR returns null or a header inside the
    // control buffer, whose data holds `cmsg_len` bytes.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
            || ((*header).cmsg_len as usize)
                < libc::CMSG_LEN(mem::size_of::<[RawFd; 2]>() as u32) as usize
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a fork request without its pipes",
            ));
        }
        let data = libc::CMSG_DATA(header).cast::<RawFd>();
        let fds = [data.read_unaligned(), data.add(1).read_unaligned()];
        Ok(Some([
            OwnedFd::from_raw_fd(fds[0]),
            OwnedFd::from_raw_fd(fds[1]),
        ]))
    }
}

/// An aligned control-message buffer with room for two descriptors.
struct ControlBuffer {
    bytes: [u64; 8],
    space: usize,
}

impl ControlBuffer {
    fn new() -> ControlBuffer {
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(mem::size_of::<[RawFd; 2]>() as u32) } as usize;
        debug_assert!(space <= mem::size_of::<[u64; 8]>());
        ControlBuffer {
            bytes: [0; 8],
            space,
        }
    }
}

/// The write end of the server's SIGCHLD self-pipe, for the signal handler.
static CHILD_SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_child_signal(_: libc::c_int) {
    let fd = CHILD_SIGNAL_FD.load(Ordering::Relaxed);
    let byte = 1u8;
    // SAFETY: write is async-signal-safe; a full pipe already holds a pending wake-up.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
    }
}

/// The fork server's main loop; never returns.
pub(crate) fn serve(control: RawFd, parent: u32) -> ! {
    worker::become_pool_child(parent, &[control]);
    let code = match run_server(control) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("braid-procpool fork server: {e}");
            1
        }
    };
    std::process::exit(code)
}

fn run_server(control: RawFd) -> io::Result<()> {
    let (signal_read, signal_write) = sys::pipe()?;
    sys::set_nonblocking(&signal_read)?;
    sys::set_nonblocking(&signal_write)?;
    CHILD_SIGNAL_FD.store(signal_write.as_raw_fd(), Ordering::Relaxed);
    install_child_handler(on_child_signal as *const () as usize)?;
    let me = std::process::id();
    let mut open = true;
    while open {
        let mut fds = [
            libc::pollfd {
                fd: control,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signal_read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // `fds` is a valid array of two pollfd.
        sys::retry(|| sys::syscall!(poll(fds.as_mut_ptr(), 2, -1)))?;
        if fds[1].revents != 0 {
            let mut sink = [0u8; 64];
            while matches!(sys::read(signal_read.as_raw_fd(), &mut sink), Ok(n) if n > 0) {}
            reap(control, false);
        }
        if fds[0].revents != 0 {
            match recv_fds(control)? {
                None => open = false,
                Some([task, result]) => {
                    let pid = sys::syscall!(fork())?;
                    if pid == 0 {
                        // The worker must not keep the server's handler or pipes.
                        let _ = install_child_handler(libc::SIG_DFL);
                        super::run_forked_worker(task.as_raw_fd(), result.as_raw_fd(), me);
                    }
                    drop((task, result));
                    report(control, FORKED, pid as u32, 0);
                }
            }
        }
    }
    // Workers end once the supervisor closes their task pipes; wait for each.
    reap(control, true);
    Ok(())
}

fn install_child_handler(handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = handler;
    action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
    // SAFETY: `action` is initialised; the handler only calls async-signal-safe functions.
    sys::syscall!(sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()))?;
    Ok(())
}

/// Reaps ended workers and reports them; with `block`, until no child is left.
fn reap(control: RawFd, block: bool) {
    while let Ok(Some((pid, status))) = sys::wait_any(block) {
        report(control, EXITED, pid, status.to_wire());
    }
}

fn report(control: RawFd, tag: u8, pid: u32, status: i32) {
    let mut bytes = [0u8; REPORT_LEN];
    bytes[0] = tag;
    bytes[1..5].copy_from_slice(&pid.to_le_bytes());
    bytes[5..9].copy_from_slice(&status.to_le_bytes());
    // A supervisor that went away no longer needs reports.
    let _ = sys::write_all(control, &bytes);
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn descriptors_pass_through_the_socket() {
        let (a, b) = sys::socket_pair().unwrap();
        let (r, w) = sys::pipe().unwrap();
        send_fds(a.as_raw_fd(), &[r.as_raw_fd(), w.as_raw_fd()]).unwrap();
        let [r2, w2] = recv_fds(b.as_raw_fd()).unwrap().unwrap();
        sys::write_all(w2.as_raw_fd(), b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(sys::read(r.as_raw_fd(), &mut buf).unwrap(), 1);
        drop((r2, w));
        drop(a);
        assert!(recv_fds(b.as_raw_fd()).unwrap().is_none());
    }
}
