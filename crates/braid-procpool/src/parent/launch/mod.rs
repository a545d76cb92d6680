//! Making worker processes, one way per [`StartMethod`]: `spawn.rs` runs the executable
//! again, and `fork_server.rs` asks a fork server, which `ForkServer` starts by running the
//! executable and `Fork` by forking this process once, when the pool is built; and
//! `command.rs` runs a [`Launcher`](crate::Launcher)'s command, whose worker connects back.

mod address;
pub(crate) mod command;
mod fork_server;
pub(crate) mod forward;
mod spawn;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;

use braid_sys::fd;
use braid_sys::process::{self, ExitStatus};

use crate::parent::settings::StartMethod;
use crate::protocol::fork_server::Report;

/// A new worker's parent-side pipe ends.
#[derive(Debug)]
pub(crate) struct Launched {
    /// Known at once for `Spawn` and a command (the command's process); a fork server
    /// (`ForkServer` and `Fork`) reports it with [`Report::Forked`].
    pub(crate) pid: Option<u32>,
    /// Where task messages go (non-blocking); `None` for a worker that connects back, whose
    /// connection comes later ([`command::Listener`]).
    pub(crate) tasks: Option<OwnedFd>,
    /// Where results come from (non-blocking); `None` as `tasks`.
    pub(crate) results: Option<OwnedFd>,
    /// The parent's copy of the task pipe's read end, where the pipe is in packet mode
    /// ([`fd::packet_pipe`], Linux): reading it takes back, whole, task messages the worker
    /// has not read yet. Non-blocking, and so is the worker's end, which shares its mode.
    pub(crate) recall: Option<OwnedFd>,
    /// The launcher's standard error, where it says why a worker ended (Slurm's `srun`);
    /// non-blocking. What comes out is passed on to this process's standard error.
    pub(crate) log: Option<OwnedFd>,
}

/// Starts workers. Lives on the supervisor thread: on Linux the death signal of a worker or
/// a fork server follows the thread that created it, and that thread outlives every one.
#[derive(Debug)]
pub(crate) enum Starter {
    Spawn {
        exe: PathBuf,
    },
    /// `ForkServer`'s server, or `Fork`'s template: the same server, entered by `exec` or by
    /// `fork`.
    ForkServer {
        client: fork_server::Client,
        /// Workers the template forked as it started, whose pipes it inherited from the
        /// fork that made it: the first launches hand these out, in the order the template
        /// reports them, instead of asking for new ones.
        first: VecDeque<Launched>,
    },
    /// A user's command, whose worker connects to the pool's listener.
    Command(command::Command),
}

impl Starter {
    /// `workers` is how many workers the pool starts with; `Fork`'s template forks that many
    /// as soon as it exists.
    pub(crate) fn new(
        method: StartMethod,
        exe: Option<PathBuf>,
        command: Option<command::Command>,
        workers: usize,
    ) -> io::Result<Starter> {
        if let Some(command) = command {
            return Ok(Starter::Command(command));
        }
        let exe = || {
            exe.clone()
                .ok_or_else(|| io::Error::other("no executable to run"))
        };
        Ok(match method {
            StartMethod::Spawn => Starter::Spawn { exe: exe()? },
            StartMethod::Fork => Starter::fork_template(workers)?,
            StartMethod::ForkServer => Starter::ForkServer {
                client: fork_server::Client::start(&exe()?)?,
                first: VecDeque::new(),
            },
        })
    }

    /// Forks the template, and the pool's first `workers` workers: the template forks the
    /// later half of them the moment it exists, on pipes it inherits, while this process
    /// forks the earlier half itself, at the same moment. A pool's start then waits for two
    /// forks in a row (the template's, then one worker's beside it), as when every worker was
    /// a fork of this process, not for the template's fork followed by each of its forks in
    /// turn; and a worker costs neither a request nor a report on the socket. Forking the
    /// first workers at build is the same moment the template's fork is taken at, so they
    /// start from the same snapshot with the same locks held (see `fork_server::fork_worker`);
    /// every later worker comes from the template.
    ///
    /// Pipes that cannot be made now (no descriptor left), and a worker this process cannot
    /// fork, are asked of the template with the worker, as for any later worker, and fail
    /// its start the same way; if the template cannot be made beside the pipes, it is made
    /// without them.
    fn fork_template(workers: usize) -> io::Result<Starter> {
        let mut pipes = Vec::with_capacity(workers);
        while pipes.len() < workers {
            match Pipes::new() {
                Ok(made) => pipes.push(made),
                Err(_) => break,
            }
        }
        let own = pipes.len() / 2;
        let ends: Vec<[RawFd; 2]> = pipes[own..]
            .iter()
            .map(|p| [p.task_read.as_raw_fd(), p.result_write.as_raw_fd()])
            .collect();
        let client = match fork_server::Client::fork_template(&ends) {
            Ok(client) => client,
            Err(_) if !pipes.is_empty() => {
                drop(pipes);
                return Ok(Starter::ForkServer {
                    client: fork_server::Client::fork_template(&[])?,
                    first: VecDeque::new(),
                });
            }
            Err(e) => return Err(e),
        };
        let mut first = VecDeque::with_capacity(pipes.len());
        let mut own_pids = Vec::with_capacity(own);
        let mut made = Ok(());
        for (n, pipes) in pipes.into_iter().enumerate() {
            let pid = if n < own {
                match fork_server::fork_worker(&pipes.task_read, &pipes.result_write) {
                    Ok(pid) => {
                        own_pids.push(pid);
                        Some(pid)
                    }
                    // Asked of the template later, with the other workers it forks.
                    Err(_) => continue,
                }
            } else {
                None
            };
            match pipes.into_launched(pid) {
                Ok(launched) => first.push_back(launched),
                Err(e) => {
                    made = Err(e);
                    break;
                }
            }
        }
        match made {
            Ok(()) => Ok(Starter::ForkServer { client, first }),
            Err(e) => {
                // Every worker ends once its task pipe closes, here; the template reaps its
                // own, and this process its own.
                drop(first);
                for pid in own_pids {
                    let _ = process::wait_pid(pid, true);
                }
                client.close();
                Err(e)
            }
        }
    }

    /// Starts one worker, known to the pool as `id`.
    pub(crate) fn launch(&mut self, id: u64) -> io::Result<Launched> {
        if let Starter::Command(command) = self {
            let (pid, log) = command.run(id)?;
            return Ok(Launched {
                pid: Some(pid),
                tasks: None,
                results: None,
                recall: None,
                log,
            });
        }
        if let Starter::ForkServer { first, .. } = self {
            if let Some(launched) = first.pop_front() {
                return Ok(launched);
            }
        }
        let pipes = Pipes::new()?;
        let pid = match self {
            Starter::Spawn { exe } => {
                Some(spawn::spawn(exe, &pipes.task_read, &pipes.result_write)?)
            }
            Starter::ForkServer { client, .. } => {
                client.request(&pipes.task_read, &pipes.result_write)?;
                None
            }
            Starter::Command(_) => unreachable!("handled above"),
        };
        pipes.into_launched(pid)
    }

    /// The fork server's control socket, to watch for its reports.
    pub(crate) fn control(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Starter::ForkServer { client, .. } => Some(client.control()),
            _ => None,
        }
    }

    /// Reads the fork server's pending reports; `Ok(false)` once it is gone.
    pub(crate) fn read_events(&mut self, out: &mut Vec<Report>) -> io::Result<bool> {
        match self {
            Starter::ForkServer { client, .. } => client.read_events(out),
            _ => Ok(true),
        }
    }

    /// A pidfd for the fork server's worker `pid`, sent with its `Forked` report.
    pub(crate) fn take_pidfd(&mut self, pid: u32) -> Option<OwnedFd> {
        match self {
            Starter::ForkServer { client, .. } => client.take_pidfd(pid),
            _ => None,
        }
    }

    /// Whether worker exits are reported by a fork server rather than observed directly.
    pub(crate) fn reports_exits(&self) -> bool {
        matches!(self, Starter::ForkServer { .. })
    }

    /// Tells the fork server, if any, that no worker will be asked for again: it exits as soon
    /// as its last worker has ended and been reported.
    pub(crate) fn finish_launches(&self) -> io::Result<()> {
        match self {
            Starter::ForkServer { client, .. } => client.finish_requests(),
            _ => Ok(()),
        }
    }

    /// A worker's exit status as the pool reports it (see [`command::Command::worker_status`]).
    pub(crate) fn worker_status(&self, status: ExitStatus) -> ExitStatus {
        match self {
            Starter::Command(command) => command.worker_status(status),
            _ => status,
        }
    }

    /// Whether a worker's launcher is asked to stop before it is killed (`srun`, whose
    /// job would otherwise stay in Slurm's queue).
    pub(crate) fn stops_gently(&self) -> bool {
        matches!(self, Starter::Command(command) if command.is_slurm())
    }

    /// Where what launchers write to their standard error goes, for launchers whose output
    /// the pool reads ([`Launched::log`]).
    pub(crate) fn forwarder(&self) -> Option<&forward::Forwarder> {
        match self {
            Starter::Command(command) => command.forwarder.as_ref(),
            _ => None,
        }
    }

    /// The program a command launcher runs, as a name for messages.
    pub(crate) fn command_name(&self) -> Option<String> {
        match self {
            Starter::Command(command) => Some(command.name()),
            _ => None,
        }
    }

    /// The listener that workers started by a command connect to.
    pub(crate) fn listener(&mut self) -> Option<&mut command::Listener> {
        match self {
            Starter::Command(command) => Some(&mut command.listener),
            _ => None,
        }
    }

    /// Stops the fork server, if any, once every worker is gone, and reaps it.
    pub(crate) fn close(self) {
        if let Starter::ForkServer { client, first } = self {
            // Unused first workers end when their task pipes close, before the server is
            // waited for.
            drop(first);
            client.close();
        }
    }
}

/// A new worker's two pipes, before the worker holds its ends.
struct Pipes {
    task_read: OwnedFd,
    task_write: OwnedFd,
    result_read: OwnedFd,
    result_write: OwnedFd,
    /// Whether the task pipe is in packet mode ([`fd::packet_pipe`]).
    packets: bool,
}

impl Pipes {
    fn new() -> io::Result<Pipes> {
        let (task_read, task_write, packets) = match fd::packet_pipe() {
            Ok((read, write)) => (read, write, true),
            Err(_) => {
                let (read, write) = fd::pipe()?;
                (read, write, false)
            }
        };
        if packets {
            fd::set_nonblocking(task_read.as_fd(), true)?;
        }
        let (result_read, result_write) = fd::pipe()?;
        Ok(Pipes {
            task_read,
            task_write,
            result_read,
            result_write,
            packets,
        })
    }

    /// The parent's side, once the worker (or the process that forks it) holds its own
    /// copies of its ends. The task pipe grows here, not when it is made: for `Fork`'s first
    /// workers, made before the template is forked, that is one thing less before the fork.
    fn into_launched(self, pid: Option<u32>) -> io::Result<Launched> {
        let Pipes {
            task_read,
            task_write,
            result_read,
            result_write,
            packets,
        } = self;
        drop(result_write);
        fd::grow_pipe(task_write.as_fd());
        let recall = packets.then_some(task_read);
        fd::set_nonblocking(task_write.as_fd(), true)?;
        fd::set_nonblocking(result_read.as_fd(), true)?;
        Ok(Launched {
            pid,
            tasks: Some(task_write),
            results: Some(result_read),
            recall,
            log: None,
        })
    }
}
