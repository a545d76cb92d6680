//! An axum `Router` served on braid's event loop, with a graceful shutdown.
//!
//! axum's own `axum::serve` runs on tokio, but a `Router` is only a tower `Service`: here
//! hyper-util's `TowerToHyperService` hands it to hyper, and braid-hyper gives hyper braid's
//! sockets, executor and timer. The handlers are ordinary axum handlers; `/slow` waits on
//! braid's timer.
//!
//! ```text
//! cargo run --example axum_hello                                   # 127.0.0.1:8080
//! curl http://127.0.0.1:8080/ http://127.0.0.1:8080/json/ada       # one connection
//! curl --data 'hi there' http://127.0.0.1:8080/echo
//! curl http://127.0.0.1:8080/slow                                  # 300 ms on braid's timer
//! curl --request POST http://127.0.0.1:8080/shutdown               # or Ctrl-C, or SIGTERM
//! ```
//!
//! On SIGINT, SIGTERM or a POST to `/shutdown` it stops accepting connections, tells every
//! open connection to finish the request it is serving and close, waits for them, and exits
//! with status 0.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use braid::executor::net::TcpListener;
use braid::executor::signal::signal;
use braid::executor::sync::Event;
use braid::executor::{run, sleep, spawn};
use braid_hyper::{BraidExecutor, BraidIo, BraidTimer};
use examples::cli::Args;
use futures::FutureExt;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

fn main() {
    let mut args = Args::from_env("axum_hello [ADDRESS]   (default 127.0.0.1:8080)");
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)));
    args.finish();

    if let Err(error) = run(serve(addr)) {
        eprintln!("axum_hello: {error}");
        std::process::exit(1);
    }
}

/// The application: plain axum, nothing in it knows which loop runs it. `stop` is set by
/// `/shutdown`.
fn app(stop: Arc<Event>) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum on braid!\n" }))
        .route("/json/{name}", get(greet))
        .route("/echo", post(|body: String| async move { body }))
        .route("/slow", get(slow))
        .route("/shutdown", post(shut_down))
        .fallback(not_found)
        .with_state(stop)
}

#[derive(serde::Serialize)]
struct Greeting {
    greeting: String,
    served_by: &'static str,
}

async fn greet(Path(name): Path<String>) -> Json<Greeting> {
    Json(Greeting {
        greeting: format!("hello, {name}"),
        served_by: "braid",
    })
}

/// A request that takes a while, waiting on braid's timer.
async fn slow() -> &'static str {
    println!("slow request started");
    sleep(Duration::from_millis(300)).await;
    "slow request done\n"
}

async fn shut_down(State(stop): State<Arc<Event>>) -> &'static str {
    stop.set();
    "shutting down\n"
}

async fn not_found(uri: Uri) -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, format!("no route for {uri}\n"))
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // Listening before the address is printed, so a signal sent after it is never missed.
    let mut sigint = signal(libc::SIGINT)?;
    let mut sigterm = signal(libc::SIGTERM)?;
    let stop = Arc::new(Event::new());
    println!("listening on http://{}/", listener.local_addr()?);

    // One hyper service for every connection: each request runs a clone of the router.
    let service = TowerToHyperService::new(app(Arc::clone(&stop)));
    let mut builder = auto::Builder::new(BraidExecutor);
    builder
        .http1()
        .timer(BraidTimer)
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(BraidTimer);
    // Keeps track of every open connection, to shut them down together.
    let graceful = GracefulShutdown::new();

    let reason = loop {
        let (stream, _) = futures::select_biased! {
            _ = sigint.recv().fuse() => break "SIGINT",
            _ = sigterm.recv().fuse() => break "SIGTERM",
            _ = stop.wait().fuse() => break "/shutdown",
            accepted = listener.accept().fuse() => accepted?,
        };
        stream.set_nodelay(true)?;
        let connection = builder
            .serve_connection(BraidIo::new(stream), service.clone())
            .into_owned();
        let connection = graceful.watch(connection);
        spawn(async move {
            // A client that resets its connection ends only its own task.
            let _ = connection.await;
        })
        .detach();
    };

    drop(listener);
    println!("{reason}: no new connections; waiting for the open ones to finish");
    graceful.shutdown().await;
    println!("every connection is closed; bye");
    Ok(())
}
