//! The supervisor's end of the fork server: a clean, single-threaded copy of the program
//! that forks workers (its own side is `child::fork_server`).
//!
//! [`StartMethod::ForkServer`](crate::StartMethod::ForkServer) starts the server by running
//! the executable again. [`StartMethod::Fork`](crate::StartMethod::Fork) starts it by forking
//! this process once, when the pool is built: that server is the template every later
//! worker is forked from, so no replacement is a fork of this threaded process. (Of the
//! pool's first workers, the template forks half while this process forks the other half,
//! at the same moment as the template: the pool's start then waits for two forks in a row,
//! not three.)
//!
//! The supervisor and the server talk over a Unix stream socket. To start a worker the
//! supervisor sends one byte carrying the worker's two pipe ends (`SCM_RIGHTS`); the server
//! forks, and answers `Forked(pid)`. When a worker ends, the server reaps it and reports
//! `Exited(pid, status)`: only a parent can learn a process's exit status. `Fork`'s template
//! also forks the pool's first workers the moment it exists, on pipes it inherited from the
//! fork that made it, and reports them before answering any request, in order, as if they
//! had been the first requests: a pool's start does not wait for a request and a report
//! each. Each report is
//! 9 bytes: a tag, a little-endian `u32` pid and an `i32` status. When the socket closes, the
//! server waits for its remaining workers (they end when their task pipes close) and exits.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use braid_sys::{fd, process};

use crate::child::{run_forked_first_worker, run_forked_template};
use crate::protocol::fork_server::Report;
use crate::protocol::role::Role;

/// The supervisor's end of a running fork server.
#[derive(Debug)]
pub(crate) struct Client {
    control: OwnedFd,
    pid: u32,
    buf: Vec<u8>,
    /// Pidfds the server sent with its `Forked` reports, by the pid they refer to.
    pidfds: HashMap<u32, OwnedFd>,
}

impl Client {
    /// Runs this executable as a fork server.
    pub(crate) fn start(exe: &Path) -> io::Result<Client> {
        let (control, server_end) = fd::socket_pair()?;
        let pid = super::spawn::run_again(
            exe,
            Role::ForkServer {
                control: server_end.as_raw_fd(),
                parent: std::process::id(),
            },
        )?;
        drop(server_end);
        Client::new(control, pid)
    }

    /// Forks this process into a fork server, the template of every worker. The template
    /// first forks a worker for each pair of pipe ends in `first` (its task pipe's read end
    /// and its result pipe's write end), which it inherits, and reports them as if they had
    /// been requested, in order.
    ///
    /// Besides some of the pool's first workers ([`fork_worker`]), made at the same moment,
    /// this is the one fork of the (possibly threaded) parent: no replacement is a fork of
    /// it. See [`fork_holding_std_streams`] for what the fork guards against.
    pub(crate) fn fork_template(first: &[[RawFd; 2]]) -> io::Result<Client> {
        let (control, server_end) = fd::socket_pair()?;
        let parent = std::process::id();
        match fork_holding_std_streams()? {
            None => run_forked_template(server_end.as_raw_fd(), parent, first),
            Some(pid) => {
                drop(server_end);
                Client::new(control, pid)
            }
        }
    }

    fn new(control: OwnedFd, pid: u32) -> io::Result<Client> {
        let client = Client {
            control,
            pid,
            buf: Vec::new(),
            pidfds: HashMap::new(),
        };
        if let Err(e) = fd::set_nonblocking(client.control.as_fd(), true) {
            client.close();
            return Err(e);
        }
        Ok(client)
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
            match fd::send_with_fds(self.control.as_raw_fd(), &fds) {
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
    pub(crate) fn read_events(&mut self, out: &mut Vec<Report>) -> io::Result<bool> {
        let mut open = true;
        let mut chunk = [0u8; 512];
        loop {
            match fd::recv_with_any_fds(self.control.as_raw_fd(), &mut chunk) {
                Ok((0, _)) => {
                    open = false;
                    break;
                }
                Ok((n, pidfds)) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    for pidfd in pidfds {
                        // Kept by the pid it refers to, so that no pairing of descriptors
                        // with reports is assumed; one whose worker is already gone is
                        // dropped.
                        if let Ok(Some(pid)) = process::pidfd_pid(pidfd.as_fd()) {
                            self.pidfds.insert(pid, pidfd);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Report::decode_all(&mut self.buf, out)?;
        Ok(open)
    }

    /// The pidfd the server sent for its worker `pid`, if any.
    pub(crate) fn take_pidfd(&mut self, pid: u32) -> Option<OwnedFd> {
        self.pidfds.remove(&pid)
    }

    /// Tells the server no request will follow (shuts down this end's sending half): it
    /// then reaps and reports its remaining workers and exits without waiting for
    /// [`close`](Client::close), so the pool's shutdown waits for one hand-off less.
    pub(crate) fn finish_requests(&self) -> io::Result<()> {
        fd::shutdown_write(self.control.as_fd())
    }

    /// Closes the socket, which tells the server to finish, and reaps it.
    pub(crate) fn close(self) {
        drop(self.control);
        let _ = process::wait_pid(self.pid, true);
    }
}

/// Forks this process, this worker-to-be's only copy: the child serves on `task` (its task
/// pipe's read end) and `result` (its result pipe's write end) and never returns. For the
/// pool's first workers, forked beside the template while it forks the others (see
/// `Starter::fork_template`); every later worker comes from the template. Returns the pid.
pub(crate) fn fork_worker(task: &OwnedFd, result: &OwnedFd) -> io::Result<u32> {
    let parent = std::process::id();
    match fork_holding_std_streams()? {
        None => run_forked_first_worker(task.as_raw_fd(), result.as_raw_fd(), parent),
        Some(pid) => Ok(pid),
    }
}

/// Forks this (possibly threaded) process with std's stdout and stderr locks held across
/// the fork, so that a thread that is printing cannot leave them locked in the child.
/// `Ok(None)` in the child, which must only become the template or a worker: those reset
/// braid's signal listeners. Other locks are [`StartMethod::Fork`](crate::StartMethod::Fork)'s
/// documented hazard.
fn fork_holding_std_streams() -> io::Result<Option<u32>> {
    // The thread building the pool waits for this one: if it holds either lock, both wait
    // forever, as documented on Fork. std itself never holds both at once, so the order only
    // matters to a program that does.
    let stdout = io::stdout().lock();
    let stderr = io::stderr().lock();
    // SAFETY: the child runs only the fork server or a worker, which reset braid's signal
    // registry first. Both std stream locks belong to this thread, which the child is a copy
    // of, and the guards release them on both sides below; the system allocator prepares
    // itself for fork. What else another thread may hold is the Fork start method's
    // documented hazard.
    let forked = unsafe { process::fork() };
    drop((stderr, stdout));
    forked
}

#[cfg(all(test, target_os = "linux"))]
mod test {
    use super::*;

    /// The template's worker comes with a pidfd that refers to it, sent by its parent.
    #[test]
    fn a_forked_worker_is_reported_with_its_pidfd() {
        let mut client = Client::fork_template(&[]).unwrap();
        let (task_read, task_write) = fd::pipe().unwrap();
        let (result_read, result_write) = fd::pipe().unwrap();
        client.request(&task_read, &result_write).unwrap();
        drop((task_read, result_write));
        let mut reports = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let pid = loop {
            assert!(std::time::Instant::now() < deadline, "no Forked report");
            client.read_events(&mut reports).unwrap();
            if let Some(Report::Forked(pid)) = reports.first() {
                break *pid;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let pidfd = client.take_pidfd(pid).expect("a pidfd with the report");
        assert_eq!(process::pidfd_pid(pidfd.as_fd()).unwrap(), Some(pid));
        // Its task pipe closed, the worker ends; the server reports it and closes.
        drop((task_write, result_read));
        client.close();
    }

    /// A pool that closes its socket with a report still unread in it leaves the server a
    /// reset, not an end of file: the server takes it as the pool's end all the same and
    /// exits cleanly, printing nothing.
    #[test]
    fn a_server_whose_pool_left_reports_unread_exits_cleanly() {
        let mut client = Client::fork_template(&[]).unwrap();
        let (task_read, task_write) = fd::pipe().unwrap();
        let (result_read, result_write) = fd::pipe().unwrap();
        client.request(&task_read, &result_write).unwrap();
        drop((task_read, result_write));
        let mut reports = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !matches!(reports.first(), Some(Report::Forked(_))) {
            assert!(std::time::Instant::now() < deadline, "no Forked report");
            client.read_events(&mut reports).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The worker ends; wait until the server's `Exited` report sits in the socket, and
        // leave it there.
        drop((task_write, result_read));
        let mut readable = libc::pollfd {
            fd: client.control.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the length of the call.
        let ready = unsafe { libc::poll(&mut readable, 1, 30_000) };
        assert_eq!(ready, 1, "the Exited report never came");
        let Client { control, pid, .. } = client;
        drop(control);
        assert_eq!(
            process::wait_pid(pid, true).unwrap(),
            Some(process::ExitStatus::exited(0)),
            "the server took the reset as a failure"
        );
    }

    /// Told that no request follows, the server still reports its worker's end, then exits
    /// on its own: the pool's end of the socket, still open, reads end of file.
    #[test]
    fn a_server_told_no_request_follows_exits_after_its_last_report() {
        let mut client = Client::fork_template(&[]).unwrap();
        let (task_read, task_write) = fd::pipe().unwrap();
        let (result_read, result_write) = fd::pipe().unwrap();
        client.request(&task_read, &result_write).unwrap();
        drop((task_read, result_write));
        client.finish_requests().unwrap();
        drop((task_write, result_read));
        let mut reports = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while client.read_events(&mut reports).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let Some(Report::Forked(pid)) = reports.first().copied() else {
            panic!("no Forked report first: {reports:?}");
        };
        assert!(
            matches!(reports[1..], [Report::Exited(exited, _)] if exited == pid),
            "{reports:?}"
        );
        client.close();
    }

    /// Workers the template forks as it starts come first, in the order of their pipes,
    /// and a request's worker after them; each ends when its task pipe closes, and is
    /// reported as the worker `Forked` named for its pipe.
    #[test]
    fn first_workers_are_reported_before_requested_ones_in_order() {
        let pipes: Vec<_> = (0..3)
            .map(|_| (fd::pipe().unwrap(), fd::pipe().unwrap()))
            .collect();
        let ends: Vec<[RawFd; 2]> = pipes[..2]
            .iter()
            .map(|((task_read, _), (_, result_write))| {
                [task_read.as_raw_fd(), result_write.as_raw_fd()]
            })
            .collect();
        let mut client = Client::fork_template(&ends).unwrap();
        let ((task_read, _), (_, result_write)) = &pipes[2];
        client.request(task_read, result_write).unwrap();
        let mut task_writes = Vec::new();
        for ((task_read, task_write), (result_read, result_write)) in pipes {
            drop((task_read, result_write, result_read));
            task_writes.push(task_write);
        }
        let mut reports = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut wait_for = |reports: &mut Vec<Report>, n: usize| {
            while reports.len() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "only these reports came: {reports:?}"
                );
                client.read_events(reports).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        wait_for(&mut reports, 3);
        let forked: Vec<u32> = reports
            .iter()
            .map(|report| match report {
                Report::Forked(pid) => *pid,
                other => panic!("{other:?} before the three workers were forked"),
            })
            .collect();
        // Ending the workers one at a time, in reverse, says which pipe each one serves.
        for (n, task_write) in task_writes.into_iter().enumerate().rev() {
            let before = reports.len();
            drop(task_write);
            wait_for(&mut reports, before + 1);
            assert!(
                matches!(reports[before], Report::Exited(pid, _) if pid == forked[n]),
                "worker {n} was forked as {}: {reports:?}",
                forked[n]
            );
        }
        client.close();
    }
}
