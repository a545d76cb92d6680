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

use braid_poller::{Events, Interest, Mode, Poller};
use braid_sys::process::{self, ExitStatus};
use braid_sys::{fd, retry, signal, syscall};

use super::ServerEvent;
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
        let (control, server_end) = fd::socket_pair()?;
        let server_fd = server_end.as_raw_fd();
        let pid = super::run_again(
            exe,
            worker::FORK_SERVER_ENV,
            format!("{server_fd}:{}", std::process::id()),
            [server_fd],
        )?;
        drop(server_end);
        fd::set_nonblocking(control.as_fd(), true)?;
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
            match fd::read(self.control.as_raw_fd(), &mut chunk) {
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
        let _ = process::wait_pid(self.pid, true);
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
    // SAFETY: `msg` and every buffer it points to live across the call.
    retry(|| unsafe { syscall!(sendmsg(socket, &msg, 0)) })?;
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
    // SAFETY: `msg` and every buffer it points to live across the call.
    if retry(|| unsafe { syscall!(recvmsg(socket, &mut msg, flags)) })? == 0 {
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

/// The poller keys of the two descriptors the server watches.
const CONTROL: usize = 0;
const CHILD_EXITED: usize = 1;

fn run_server(control: RawFd) -> io::Result<()> {
    // A `SIGCHLD` writes a byte to `exits`: braid's one signal handler, the self-pipe trick.
    let (exits, exits_write) = fd::pipe()?;
    fd::set_nonblocking(exits.as_fd(), true)?;
    let sigchld = signal::subscribe(libc::SIGCHLD)?;
    let wake = signal::WakeTarget::new(exits_write)?;
    wake.set_interest(sigchld.signum(), true);
    let poller = Poller::new()?;
    // SAFETY: `control` is open for as long as the server runs, longer than this borrow.
    let control_fd = unsafe { BorrowedFd::borrow_raw(control) };
    poller.add(control_fd, CONTROL, Interest::READABLE, Mode::Level)?;
    poller.add(exits.as_fd(), CHILD_EXITED, Interest::READABLE, Mode::Level)?;
    let mut events = Events::with_capacity(2);
    let me = std::process::id();
    let mut open = true;
    while open {
        poller.wait(&mut events, None)?;
        let ready = |key| events.iter().any(|event| event.key() == key);
        let (exited, requested) = (ready(CHILD_EXITED), ready(CONTROL));
        if exited {
            let mut sink = [0u8; 64];
            while matches!(fd::read(exits.as_raw_fd(), &mut sink), Ok(n) if n > 0) {}
            reap(control, false);
        }
        if requested {
            match recv_fds(control)? {
                None => open = false,
                Some([task, result]) => {
                    // SAFETY: this process has a single thread, so the child finds no lock
                    // held.
                    match unsafe { process::fork() }? {
                        None => {
                            // The worker must not run the server's handler for its own
                            // children, nor keep the server's pipes (it closes every other
                            // descriptor as it starts).
                            let _ = signal::set_default(libc::SIGCHLD);
                            super::run_forked_worker(task.as_raw_fd(), result.as_raw_fd(), me);
                        }
                        Some(pid) => {
                            drop((task, result));
                            report(control, FORKED, pid, 0);
                        }
                    }
                }
            }
        }
    }
    drop(poller);
    drop((wake, sigchld));
    // Workers end once the supervisor closes their task pipes; wait for each.
    reap(control, true);
    Ok(())
}

/// Reaps ended workers and reports them; with `block`, until no child is left.
fn reap(control: RawFd, block: bool) {
    while let Ok(Some((pid, status))) = process::wait_any(block) {
        report(control, EXITED, pid, status.to_wire());
    }
}

fn report(control: RawFd, tag: u8, pid: u32, status: i32) {
    let mut bytes = [0u8; REPORT_LEN];
    bytes[0] = tag;
    bytes[1..5].copy_from_slice(&pid.to_le_bytes());
    bytes[5..9].copy_from_slice(&status.to_le_bytes());
    // A supervisor that went away no longer needs reports.
    let _ = fd::write_all(control, &bytes);
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn descriptors_pass_through_the_socket() {
        let (a, b) = fd::socket_pair().unwrap();
        let (r, w) = fd::pipe().unwrap();
        send_fds(a.as_raw_fd(), &[r.as_raw_fd(), w.as_raw_fd()]).unwrap();
        let [r2, w2] = recv_fds(b.as_raw_fd()).unwrap().unwrap();
        fd::write_all(w2.as_raw_fd(), b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(fd::read(r.as_raw_fd(), &mut buf).unwrap(), 1);
        drop((r2, w));
        drop(a);
        assert!(recv_fds(b.as_raw_fd()).unwrap().is_none());
    }
}
