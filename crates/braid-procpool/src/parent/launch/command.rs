//! Workers started by a user's command ([`Launcher`](crate::Launcher)): running the command,
//! and the listener where those workers connect back and are admitted by the handshake of
//! [`auth`](crate::protocol::auth).
//!
//! The handshake runs on the supervisor thread without blocking it: each connection waits
//! in [`Listener::pending`] with its own poller key and deadline until its answer is whole.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use braid_poller::{Interest, Mode, Poller};
use braid_sys::fd;
use braid_sys::process::ExitStatus;

use super::address;
use super::forward::Forwarder;

use crate::parent::settings::{Launcher, Placement};
use crate::protocol::auth::{self, Secret};
use crate::protocol::role::{Role, EXE_ENV};

/// How long a connection may take to answer the challenge.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the middle of their handshake at most, so that a flood of them cannot grow
/// the pool's memory or descriptors without bound. A connection beyond the limit closes the
/// oldest rather than being refused itself: a peer that opens this many connections and
/// stays silent would otherwise shut every worker out for a whole [`HANDSHAKE_TIMEOUT`],
/// and again after it. A worker answers within moments of its greeting, so it gets in
/// unless connections arrive faster than this many in that moment.
const MAX_PENDING: usize = 64;
/// Connections accepted in one call of [`Listener::accept`] at most: the supervisor goes back
/// to its workers' results in between, however fast connections arrive.
const MAX_ACCEPTS_PER_TURN: usize = 64;
/// Poller keys of connections in their handshake: `PENDING_KEYS + n`, far from the workers'
/// keys (small) and the pool's own (the last few).
pub(crate) const PENDING_KEYS: usize = usize::MAX / 2;

/// A [`Launcher`]'s command, ready to start workers.
#[derive(Debug)]
pub(crate) struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// The executable the command is told to run: a real path, which `/proc/self/exe` is
    /// not for another process.
    exe: PathBuf,
    /// The command reports a worker killed by a signal as exit code 128 + the signal's
    /// number, as `srun` and shells do.
    signals_as_codes: bool,
    /// How long a worker may take to be ready.
    pub(crate) start_timeout: Option<Duration>,
    /// How often each worker says it is alive.
    pub(crate) heartbeat: Duration,
    /// Passes on what `srun` writes to its standard error, which the pool reads.
    pub(crate) forwarder: Option<Forwarder>,
    pub(crate) listener: Listener,
}

impl Command {
    /// Listens where `launcher` says, with a fresh secret.
    pub(crate) fn new(launcher: Launcher, exe: PathBuf) -> io::Result<Command> {
        if launcher.start_timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid("a start time-out must be longer than zero"));
        }
        if launcher.heartbeat < Duration::from_millis(1) {
            return Err(invalid(
                "a heartbeat interval must be at least a millisecond",
            ));
        }
        let (program, args) = match &launcher.slurm {
            Some(slurm) => {
                slurm.check().map_err(invalid)?;
                (launcher.program, slurm.srun_args(&exe, Placement::here()))
            }
            None => (launcher.program, launcher.args),
        };
        let listen = match (launcher.listen, &launcher.slurm) {
            (Some(addr), _) => addr,
            (None, Some(_)) => SocketAddr::new(
                address::on_slurm_network().map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "finding this host's address on Slurm's network failed ({e}); \
                             give the address to listen on with Slurm::listen"
                        ),
                    )
                })?,
                0,
            ),
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let socket = TcpListener::bind(listen)?;
        socket.set_nonblocking(true)?;
        let mut addr = socket.local_addr()?;
        if addr.ip().is_unspecified() {
            // Listening on every interface, as asked; workers are told one they can reach.
            addr.set_ip(address::this_host(addr.ip())?);
        }
        Ok(Command {
            program,
            args,
            exe,
            signals_as_codes: launcher.slurm.is_some(),
            start_timeout: launcher.start_timeout,
            heartbeat: launcher.heartbeat,
            forwarder: match launcher.slurm {
                Some(_) => Some(Forwarder::start()?),
                None => None,
            },
            listener: Listener {
                socket,
                addr,
                secret: Secret::random()?,
                pending: Vec::new(),
                next_key: 0,
            },
        })
    }

    /// The address workers connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.listener.addr
    }

    /// Runs the command for worker `id`; returns its pid, and for `srun` the read end of
    /// its standard error (non-blocking), where Slurm says why a step ended. The caller
    /// reaps it.
    pub(crate) fn run(&self, id: u64) -> io::Result<(u32, Option<OwnedFd>)> {
        let role = Role::Connect {
            addr: self.listener.addr,
            id,
            secret: self.listener.secret,
        };
        let mut child = std::process::Command::new(&self.program)
            .args(&self.args)
            .envs(role.env())
            .env(EXE_ENV, &self.exe)
            .stdin(Stdio::null())
            .stderr(if self.signals_as_codes {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("running {}: {e}", self.name())))?;
        let log = child.stderr.take().map(OwnedFd::from);
        if let Some(log) = &log {
            fd::set_nonblocking(log.as_fd(), true)?;
        }
        Ok((child.id(), log))
    }

    /// Whether the command is Slurm's `srun`.
    pub(crate) fn is_slurm(&self) -> bool {
        self.signals_as_codes
    }

    /// The program the command runs, quoted, for messages.
    pub(crate) fn name(&self) -> String {
        format!("`{}`", Path::new(&self.program).display())
    }

    /// The worker's exit status as the command's says it: a code over 128 from a command
    /// that reports signals that way is the signal.
    pub(crate) fn worker_status(&self, status: ExitStatus) -> ExitStatus {
        match status.code() {
            Some(code) if self.signals_as_codes && (129..=128 + 64).contains(&code) => {
                ExitStatus::signaled(code - 128)
            }
            _ => status,
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Where workers started by a command connect.
#[derive(Debug)]
pub(crate) struct Listener {
    socket: TcpListener,
    addr: SocketAddr,
    secret: Secret,
    /// Connections in their handshake.
    pending: Vec<Pending>,
    next_key: usize,
}

/// A connection that was challenged and has not answered in full yet.
#[derive(Debug)]
struct Pending {
    stream: TcpStream,
    key: usize,
    nonce: [u8; auth::LEN],
    answer: [u8; auth::ANSWER_LEN],
    got: usize,
    deadline: Instant,
}

/// What one call of [`Listener::accept`] did.
#[derive(Debug, Default)]
pub(crate) struct Accepted {
    /// Connections accepted and challenged.
    pub(crate) challenged: u64,
    /// Connections closed at once: the oldest in its handshake, to make room, and those whose
    /// challenge could not be sent.
    pub(crate) refused: u64,
    /// Why accepting stopped, if for want of something the system has to free first
    /// (descriptors, memory). The connection stays queued and the listener readable, so the
    /// caller must stop watching it for a while: the poller would report it again at once,
    /// for as long as the shortage lasts.
    pub(crate) starved: Option<io::Error>,
}

/// What became of a connection's handshake.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Not done yet.
    Waiting,
    /// It proved it knows the secret, as worker `id`; the pool's proof is sent. Blocking
    /// mode is off and `TCP_NODELAY` on.
    Admitted(u64, TcpStream),
    /// It failed, and is closed.
    Refused,
}

impl Listener {
    /// The listening socket, to watch for connections.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Accepts the waiting connections, up to [`MAX_ACCEPTS_PER_TURN`] (the listener stays
    /// readable for the rest), and challenges each, closing the oldest connection in its
    /// handshake whenever [`MAX_PENDING`] are.
    pub(crate) fn accept(&mut self, poller: &Poller) -> Accepted {
        let mut done = Accepted::default();
        for _ in 0..MAX_ACCEPTS_PER_TURN {
            let stream = match self.socket.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Interrupted, or a connection that broke before it was accepted: the next
                // one may be fine.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    continue
                }
                // No descriptor or memory left (EMFILE, ENFILE, ENOBUFS, ENOMEM), or an error
                // that trying again at once would only repeat.
                Err(e) => {
                    done.starved = Some(e);
                    break;
                }
            };
            if self.pending.len() >= MAX_PENDING {
                self.close_oldest(poller);
                done.refused += 1;
            }
            match self.challenge(stream, poller) {
                Ok(()) => done.challenged += 1,
                Err(_) => done.refused += 1,
            }
        }
        done
    }

    /// Closes the connection that has waited longest in its handshake (the first deadline:
    /// every handshake gets the same time).
    fn close_oldest(&mut self, poller: &Poller) {
        let oldest = self
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.deadline)
            .map(|(at, _)| at);
        if let Some(at) = oldest {
            self.refuse(at, poller);
        }
    }

    fn challenge(&mut self, mut stream: TcpStream, poller: &Poller) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let nonce = auth::nonce()?;
        // An empty socket buffer takes 40 bytes whole.
        let hello = auth::hello(&nonce);
        if stream.write(&hello)? != hello.len() {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let key = PENDING_KEYS + self.next_key;
        self.next_key = (self.next_key + 1) % (PENDING_KEYS / 2);
        poller.add(stream.as_fd(), key, Interest::READABLE, Mode::Level)?;
        self.pending.push(Pending {
            stream,
            key,
            nonce,
            answer: [0; auth::ANSWER_LEN],
            got: 0,
            deadline: Instant::now() + HANDSHAKE_TIMEOUT,
        });
        Ok(())
    }

    /// Reads what the connection with `key` sent of its answer, and judges it once whole.
    pub(crate) fn on_readable(&mut self, key: usize, poller: &Poller) -> Handshake {
        let Some(at) = self.pending.iter().position(|p| p.key == key) else {
            return Handshake::Waiting;
        };
        let pending = &mut self.pending[at];
        loop {
            match pending.stream.read(&mut pending.answer[pending.got..]) {
                // End of file before a whole answer.
                Ok(0) => return self.refuse(at, poller),
                Ok(n) => {
                    pending.got += n;
                    if pending.got == auth::ANSWER_LEN {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Handshake::Waiting,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.refuse(at, poller),
            }
        }
        let pending = self.pending.swap_remove(at);
        let _ = poller.delete(pending.stream.as_fd());
        let Some((id, worker_nonce)) =
            auth::check_answer(&self.secret, &pending.nonce, &pending.answer)
        else {
            return Handshake::Refused;
        };
        let mut stream = pending.stream;
        let proof = self.secret.parent_proof(&worker_nonce);
        // The worker sends nothing until it has the proof, so the buffer is empty.
        match stream.write(&proof) {
            Ok(n) if n == proof.len() => Handshake::Admitted(id, stream),
            _ => Handshake::Refused,
        }
    }

    fn refuse(&mut self, at: usize, poller: &Poller) -> Handshake {
        let pending = self.pending.swap_remove(at);
        let _ = poller.delete(pending.stream.as_fd());
        Handshake::Refused
    }

    /// Closes the connections whose handshake ran past its deadline; returns how many.
    pub(crate) fn expire(&mut self, now: Instant, poller: &Poller) -> u64 {
        let before = self.pending.len();
        self.pending.retain(|p| {
            let alive = p.deadline > now;
            if !alive {
                let _ = poller.delete(p.stream.as_fd());
            }
            alive
        });
        (before - self.pending.len()) as u64
    }

    /// The first handshake deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// Stops watching everything, before the listener and its connections close.
    pub(crate) fn unregister(&self, poller: &Poller) {
        let _ = poller.delete(self.socket.as_fd());
        for pending in &self.pending {
            let _ = poller.delete(pending.stream.as_fd());
        }
    }
}
