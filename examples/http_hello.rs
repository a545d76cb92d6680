//! An HTTP/1.1 server on braid's event loop that answers every request with
//! "Hello, world!".
//!
//! Connections are kept alive between requests, pipelined requests are answered in order,
//! and a client that sends `Connection: close` (or speaks HTTP/1.0) gets its answer and then
//! the end of the stream.
//!
//! ```text
//! cargo run --release --example http_hello                 # listens on 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/ http://127.0.0.1:8080/    # one connection, two requests
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/                # load
//! ```
//!
//! It runs until it is stopped (Ctrl-C).

use std::net::SocketAddr;

use braid::executor::net::TcpListener;
use braid::executor::{run, spawn};
use examples::cli::Args;
use examples::http::{serve_connection, Response};

fn main() {
    let mut args = Args::from_env("http_hello [ADDRESS]   (default 127.0.0.1:8080)");
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)));
    args.finish();

    if let Err(error) = run(serve(addr)) {
        eprintln!("http_hello: {error}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        // Answers go out as soon as they are ready, not held back to fill a packet.
        stream.set_nodelay(true)?;
        spawn(async move {
            // A client that resets its connection ends only its own task.
            let _ = serve_connection(stream, |request| async move {
                match request.method.as_str() {
                    "GET" => Response {
                        status: 200,
                        body: b"Hello, world!".to_vec(),
                    },
                    _ => Response {
                        status: 405,
                        body: b"only GET is served here\n".to_vec(),
                    },
                }
            })
            .await;
        })
        .detach();
    }
}
