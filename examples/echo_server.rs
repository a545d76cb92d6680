//! A TCP echo server on braid's event loop: one task per connection, all on one thread.
//!
//! ```text
//! cargo run --example echo_server                    # listens on 127.0.0.1:7000
//! cargo run --example echo_server -- 127.0.0.1:0     # any free port; it prints which
//! cargo run --example echo_client -- 127.0.0.1:7000  # in another terminal
//! ```
//!
//! It runs until it is stopped (Ctrl-C).

use std::net::SocketAddr;

use braid::executor::net::{TcpListener, TcpStream};
use braid::executor::{run, spawn};
use examples::cli::Args;
use futures::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let mut args = Args::from_env("echo_server [ADDRESS]   (default 127.0.0.1:7000)");
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 7000)));
    args.finish();

    if let Err(error) = run(serve(addr)) {
        eprintln!("echo_server: {error}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // Print the real address: with port 0 the system chose one.
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        // The task runs on its own; the accept loop goes straight back to waiting.
        spawn(async move {
            match echo(stream).await {
                Ok(bytes) => println!("{peer}: closed after {bytes} bytes"),
                Err(error) => println!("{peer}: {error}"),
            }
        })
        .detach();
    }
}

/// Sends back everything it receives until the client closes; returns how many bytes.
async fn echo(mut stream: TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}
