//! A worker started by a command: it connects to the pool, proves that it knows the pool's
//! secret and makes the pool prove the same, then serves tasks over the one connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use braid_sys::{fd, process};

use crate::protocol::auth::{self, Secret};
use crate::protocol::FromWorker;

/// How long joining the pool may take in all, each way of each handshake and the tries
/// again included.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a worker tries to join when the pool closes its connection before the
/// handshake is done.
const ATTEMPTS: u32 = 6;
/// Heartbeat intervals a worker's data may stay unacknowledged before it drops the
/// connection and ends: more than the pool's patience with a silent worker, since a pool
/// that is only paused should find its workers still there.
const UNACKNOWLEDGED: u32 = 10;
/// The pause before the second try; it doubles before each later one.
const RETRY_FIRST: Duration = Duration::from_millis(20);

/// Connects, authenticates and serves; returns the process exit code.
pub(super) fn serve(addr: SocketAddr, id: u64, secret: Secret) -> i32 {
    let stream = match join(addr, id, &secret) {
        Ok(stream) => stream,
        Err(message) => {
            eprintln!("braid-procpool: worker {id} could not join the pool at {addr}: {message}");
            return 1;
        }
    };
    let socket = stream.as_raw_fd();
    watch_connection(socket);
    // One connection carries both directions: the same descriptor reads tasks and writes
    // results.
    let code = super::serve::serve(socket, socket);
    drop(stream);
    code
}

/// Why a handshake failed.
enum Failure {
    /// The pool closed the connection (or refused it) before the handshake was done. A pool
    /// with too many connections in their handshake closes the oldest, which may be this
    /// worker's if a flood of other connections came in just before: trying again gets in.
    Closed(String),
    /// Anything else: the wrong peer, a proof that does not check, the time is up.
    Final(String),
}

/// Runs the handshake, again after a short pause each time the pool closes the connection
/// before it is done, for at most [`ATTEMPTS`] tries and [`HANDSHAKE_TIMEOUT`] in all.
fn join(addr: SocketAddr, id: u64, secret: &Secret) -> Result<TcpStream, String> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut pause = RETRY_FIRST;
    let mut attempt = 1;
    loop {
        match handshake(addr, id, secret, deadline) {
            Ok(stream) => return Ok(stream),
            Err(Failure::Closed(_)) if attempt < ATTEMPTS && Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(Failure::Closed(message) | Failure::Final(message)) => return Err(message),
        }
    }
}

/// Whether `error` says that the peer closed or refused the connection, rather than that
/// the time ran out or something else went wrong.
fn closed_by_peer(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Sorts an I/O error of the handshake into a [`Failure`], its message led by `what`.
fn failure(what: &str, error: io::Error) -> Failure {
    let message = format!("{what}: {error}");
    if closed_by_peer(&error) {
        Failure::Closed(message)
    } else {
        Failure::Final(message)
    }
}

fn handshake(
    addr: SocketAddr,
    id: u64,
    secret: &Secret,
    deadline: Instant,
) -> Result<TcpStream, Failure> {
    // A zero timeout is refused by the calls below; the smallest step is as good as spent.
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut stream =
        TcpStream::connect_timeout(&addr, left()).map_err(|e| failure("connecting failed", e))?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(left()))
        .and_then(|()| stream.set_write_timeout(Some(left())))
        .map_err(|e| Failure::Final(e.to_string()))?;
    let mut hello = [0u8; auth::HELLO_LEN];
    stream
        .read_exact(&mut hello)
        .map_err(|e| failure("the pool sent no greeting", e))?;
    let parent_nonce = auth::read_hello(&hello).ok_or_else(|| {
        Failure::Final("the peer is not a braid process pool of this version".into())
    })?;
    let own_nonce = auth::nonce().map_err(|e| Failure::Final(format!("no random bytes: {e}")))?;
    stream
        .write_all(&auth::answer(secret, &parent_nonce, id, &own_nonce))
        .map_err(|e| failure("sending the answer failed", e))?;
    let mut proof = [0u8; auth::PROOF_LEN];
    // The pool closes the connection here when the answer is wrong, and also when it closed
    // this connection, the oldest waiting, to make room before the answer arrived.
    stream
        .read_exact(&mut proof)
        .map_err(|e| failure("the pool refused this worker's answer", e))?;
    if !secret.check_parent_proof(&own_nonce, &proof) {
        return Err(Failure::Final(
            "the peer does not know the pool's secret".into(),
        ));
    }
    stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None))
        .map_err(|e| Failure::Final(e.to_string()))?;
    Ok(stream)
}

/// Ends this worker as soon as the pool closes its side of the connection, even in the
/// middle of a task: the connection is how a worker on another machine learns that its pool
/// is gone (or has killed it), as a local worker learns it from its death signal. Where the
/// system cannot watch for that, the worker ends when it next reads or writes.
///
/// The same thread sends the heartbeats the pool asked for in `INIT`, task or no task, and
/// has the connection dropped when they go unacknowledged for as long as the pool waits for
/// them: then the pool's machine or the network is gone, and the worker ends too.
fn watch_connection(socket: i32) {
    let watch = move || {
        let mut interval = None;
        loop {
            let wait = match interval {
                Some(interval) => interval,
                // Until `INIT` has come, look for it now and then.
                None => Duration::from_millis(50),
            };
            match fd::wait_peer_closed_for(socket, wait) {
                // `_exit`: a task may still run, and its state is not to be flushed anywhere.
                // Between tasks the pool closes its side only to let the worker go.
                Ok(true) | Err(_) => process::exit_now(0),
                Ok(false) => {}
            }
            if interval.is_none() {
                let ms = super::serve::HEARTBEAT_MS.load(std::sync::atomic::Ordering::Relaxed);
                if ms == 0 {
                    continue;
                }
                let every = Duration::from_millis(u64::from(ms));
                // Longer than the pool waits for heartbeats: a pool that is only paused
                // (stopped in a debugger, swapped out) while this worker sends a big result
                // keeps the worker for a while. Where the system cannot bound the wait for
                // acknowledgements, the kernel's own retries end the connection, later.
                let _ = fd::set_tcp_user_timeout(socket, every.saturating_mul(UNACKNOWLEDGED));
                interval = Some(every);
            }
            if super::serve::write_frame(socket, &FromWorker::alive_frame()).is_err() {
                process::exit_now(0);
            }
        }
    };
    super::start_watch("braid-procpool-connection-watch", watch);
}
