//! hyper's "Hello, world!" server on braid's event loop: HTTP/1.1 with keep-alive, and
//! HTTP/2 for clients that speak it from the first byte (h2c with prior knowledge), on the
//! same port.
//!
//! braid-hyper gives hyper braid's sockets, executor and timer; hyper-util's `auto` builder
//! looks at the first bytes of each connection and picks the protocol.
//!
//! ```text
//! cargo run --release --example hyper_hello                      # listens on 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/ http://127.0.0.1:8080/          # one connection, two requests
//! curl --http2-prior-knowledge http://127.0.0.1:8080/            # HTTP/2
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/                      # load
//! ```
//!
//! It runs until it is stopped (Ctrl-C).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use braid::executor::net::TcpListener;
use braid::executor::{run, spawn};
use braid_hyper::{BraidExecutor, BraidIo, BraidTimer};
use examples::cli::Args;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::server::conn::auto;

fn main() {
    let mut args = Args::from_env("hyper_hello [ADDRESS]   (default 127.0.0.1:8080)");
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)));
    args.finish();

    if let Err(error) = run(serve(addr)) {
        eprintln!("hyper_hello: {error}");
        std::process::exit(1);
    }
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.method() == Method::GET {
        Response::new(Full::new(Bytes::from_static(b"Hello, world!")))
    } else {
        let mut response =
            Response::new(Full::new(Bytes::from_static(b"only GET is served here\n")));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
    };
    Ok(response)
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}/", listener.local_addr()?);

    // One builder for every connection: HTTP/2's streams run as tasks on this loop, and
    // a client that opens a connection and sends no request is dropped after a while.
    let mut builder = auto::Builder::new(BraidExecutor);
    builder
        .http1()
        .timer(BraidTimer)
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(BraidTimer);

    loop {
        let (stream, _) = listener.accept().await?;
        // Answers go out as soon as they are ready, not held back to fill a packet.
        stream.set_nodelay(true)?;
        let connection = builder
            .serve_connection(BraidIo::new(stream), service_fn(hello))
            .into_owned();
        spawn(async move {
            // A client that resets its connection ends only its own task.
            let _ = connection.await;
        })
        .detach();
    }
}
