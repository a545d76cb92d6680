//! A TCP echo server and its clients, all driven by one poller on one thread.
//!
//! `cargo run --release -p braid-poller --example echo [clients] [messages]`
//!
//! The server accepts connections on 127.0.0.1, each client sends `messages` lines and reads
//! each echo back before sending the next, and the program prints how many round trips per
//! second one thread managed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use braid_poller::{Events, Interest, Mode, Poller};

const LISTENER: usize = 0;

enum Conn {
    /// The server's end: echoes what it reads.
    Server(TcpStream),
    /// A client: sends a message, waits for its echo, `left` more to go.
    Client {
        stream: TcpStream,
        left: usize,
        got: usize,
    },
}

const MESSAGE: &[u8] = b"hello, braid!\n";

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(Ok(50), |a| a.parse()).map_err(bad_arg)?;
    let messages: usize = args
        .next()
        .map_or(Ok(2000), |a| a.parse())
        .map_err(bad_arg)?;

    let poller = Poller::new()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    poller.add(&listener, LISTENER, Interest::READABLE, Mode::Level)?;
    let addr = listener.local_addr()?;

    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_key = 1;
    for _ in 0..clients {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        stream.write_all(MESSAGE)?;
        poller.add(&stream, next_key, Interest::READABLE, Mode::Edge)?;
        conns.insert(
            next_key,
            Conn::Client {
                stream,
                left: messages,
                got: 0,
            },
        );
        next_key += 1;
    }

    let start = Instant::now();
    let mut finished = 0;
    let mut events = Events::new();
    let mut buf = [0u8; 4096];
    while finished < clients {
        poller.wait(&mut events, Some(Duration::from_secs(10)))?;
        if events.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no progress in 10 s",
            ));
        }
        for event in events.iter() {
            if event.key() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nodelay(true)?;
                            stream.set_nonblocking(true)?;
                            poller.add(&stream, next_key, Interest::READABLE, Mode::Edge)?;
                            conns.insert(next_key, Conn::Server(stream));
                            next_key += 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&event.key()) else {
                continue;
            };
            // Edge-triggered: read until the socket says it would block.
            loop {
                let stream = match conn {
                    Conn::Server(s) => s,
                    Conn::Client { stream, .. } => stream,
                };
                let n = match stream.read(&mut buf) {
                    Ok(0) => {
                        poller.delete(&*stream)?;
                        conns.remove(&event.key());
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                match conn {
                    Conn::Server(s) => s.write_all(&buf[..n])?,
                    Conn::Client { stream, left, got } => {
                        *got += n;
                        while *got >= MESSAGE.len() {
                            *got -= MESSAGE.len();
                            *left -= 1;
                            if *left == 0 {
                                finished += 1;
                            } else {
                                stream.write_all(MESSAGE)?;
                            }
                        }
                    }
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let trips = clients * messages;
    println!(
        "{trips} round trips over {clients} connections in {:.2?} on one thread: {:.0} round trips/s",
        elapsed,
        trips as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

fn bad_arg(e: std::num::ParseIntError) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("usage: echo [clients] [messages], both whole numbers: {e}"),
    )
}
