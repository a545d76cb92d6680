//! A worker started by a command: it connects to the pool, proves that it knows the pool's
//! secret and makes the pool prove the same, then serves tasks over the one connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use braid_sys::{fd, process};

use crate::protocol::auth::{self, Secret};

/// How long the handshake may take, each way.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects, authenticates and serves; returns the process exit code.
pub(super) fn serve(addr: SocketAddr, id: u64, secret: Secret) -> i32 {
    let stream = match handshake(addr, id, &secret) {
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

fn handshake(addr: SocketAddr, id: u64, secret: &Secret) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)
        .map_err(|e| format!("connecting failed: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let mut hello = [0u8; auth::HELLO_LEN];
    stream
        .read_exact(&mut hello)
        .map_err(|e| format!("the pool sent no greeting: {e}"))?;
    let parent_nonce =
        auth::read_hello(&hello).ok_or("the peer is not a braid process pool of this version")?;
    let own_nonce = auth::nonce().map_err(|e| format!("no random bytes: {e}"))?;
    stream
        .write_all(&auth::answer(secret, &parent_nonce, id, &own_nonce))
        .map_err(|e| format!("sending the answer failed: {e}"))?;
    let mut proof = [0u8; auth::PROOF_LEN];
    stream
        .read_exact(&mut proof)
        .map_err(|e| format!("the pool refused this worker's answer ({e})"))?;
    if !secret.check_parent_proof(&own_nonce, &proof) {
        return Err("the peer does not know the pool's secret".into());
    }
    stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Ends this worker as soon as the pool closes its side of the connection, even in the
/// middle of a task: the connection is how a worker on another machine learns that its pool
/// is gone (or has killed it), as a local worker learns it from its death signal. Where the
/// system cannot watch for that, the worker ends when it next reads or writes.
fn watch_connection(socket: i32) {
    let watch = move || {
        if fd::wait_peer_closed(socket).is_ok() {
            // `_exit`: a task may still run, and its state is not to be flushed anywhere.
            // Between tasks the pool closes its side only to let the worker go.
            process::exit_now(0);
        }
    };
    let started = std::thread::Builder::new()
        .name("braid-procpool-connection-watch".into())
        .stack_size(64 * 1024)
        .spawn(watch);
    if started.is_err() {
        process::exit_now(1);
    }
}
