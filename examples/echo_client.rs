//! A TCP echo client on braid's event loop: sends numbered messages and checks every echo.
//!
//! ```text
//! cargo run --example echo_server                          # first, in another terminal
//! cargo run --example echo_client -- 127.0.0.1:7000 1000   # ADDRESS MESSAGES
//! ```
//!
//! It exits with status 1 if the server is unreachable or an echo differs from what was sent.

use std::net::SocketAddr;
use std::time::Instant;

use braid::executor::net::TcpStream;
use braid::executor::run;
use examples::cli::Args;
use futures::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let mut args = Args::from_env(
        "echo_client [ADDRESS] [MESSAGES]   (defaults: 127.0.0.1:7000 and 1000 messages)",
    );
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 7000)));
    let messages: u32 = args.next_or("MESSAGES", 1000);
    args.finish();

    let start = Instant::now();
    match run(exchange(addr, messages)) {
        Ok(bytes) => println!(
            "{messages} messages ({bytes} bytes) echoed correctly in {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        ),
        Err(error) => {
            eprintln!("echo_client: {addr}: {error}");
            std::process::exit(1);
        }
    }
}

/// Sends `messages` messages one at a time, each waiting for its echo; returns the bytes sent.
async fn exchange(addr: SocketAddr, messages: u32) -> std::io::Result<u64> {
    let mut stream = TcpStream::connect(addr).await?;
    // Small messages, one at a time: do not let Nagle's algorithm hold them back.
    stream.set_nodelay(true)?;
    let mut echo = Vec::new();
    let mut total = 0;
    for i in 0..messages {
        let message = format!("message {i}\n");
        stream.write_all(message.as_bytes()).await?;
        echo.resize(message.len(), 0);
        // TCP is a byte stream: the echo may arrive in pieces, so read exactly as much.
        stream.read_exact(&mut echo).await?;
        if echo != message.as_bytes() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "sent {message:?} but got back {:?}",
                    String::from_utf8_lossy(&echo)
                ),
            ));
        }
        total += message.len() as u64;
    }
    Ok(total)
}
