//! Runs [hyper](https://hyper.rs) 1.x, HTTP/1 and HTTP/2, client and server, on braid's
//! event loop.
//!
//! hyper brings the protocol and leaves the runtime to its user through four small traits;
//! this crate implements them over braid:
//!
//! - [`BraidIo`] makes a braid [`TcpStream`](braid_executor::net::TcpStream) or
//!   [`UnixStream`](braid_executor::net::UnixStream) hyper's `rt::Read + rt::Write`. Reads go
//!   straight into hyper's buffer, without zeroing it first.
//! - [`BraidExecutor`] is hyper's `rt::Executor` for the tasks an HTTP/2 connection runs in
//!   the background. It spawns on the loop of the current thread, so those tasks and the
//!   services they call need not be `Send`. [`HandleExecutor`] spawns `Send` futures through
//!   a [`Handle`](braid_executor::Handle), from any thread.
//! - [`BraidTimer`] is hyper's `rt::Timer`, for the header-read timeout and HTTP/2
//!   keep-alive.
//! - Both executors are also `futures`' [`Spawn`](futures::task::Spawn) (and
//!   [`BraidExecutor`] [`LocalSpawn`](futures::task::LocalSpawn)), for other crates that
//!   take a spawner.
//! - With the `client` feature (on by default), [`BraidConnector`] plugs braid's TCP into
//!   hyper-util's pooled `legacy::Client`, the client reqwest is built on, and [`client`]
//!   builds one for the running loop.
//! - [`FuturesIo`] turns what hyper hands over after an HTTP upgrade (`101 Switching
//!   Protocols`, `CONNECT`) into `futures::io` reads and writes, for WebSocket crates such
//!   as async-tungstenite.
//!
//! # Hello, world
//!
//! A server that answers every request with `hello, world`, and a client that asks it once,
//! both over HTTP/1.1 on one loop:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use braid_executor::net::{TcpListener, TcpStream};
//! use braid_hyper::{BraidIo, BraidTimer};
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("hello, world"))))
//! }
//!
//! braid_executor::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     braid_executor::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(BraidTimer)
//!             .serve_connection(BraidIo::new(stream), service_fn(hello))
//!             .await?;
//!         Ok::<(), Box<dyn std::error::Error>>(())
//!     })
//!     .detach();
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(BraidIo::new(stream)).await?;
//!     braid_executor::spawn(connection).detach();
//!
//!     let request = Request::get("/").body(Empty::<Bytes>::new())?;
//!     let response = sender.send_request(request).await?;
//!     assert_eq!(response.status(), 200);
//!     let body = response.into_body().collect().await?.to_bytes();
//!     assert_eq!(body, "hello, world");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For HTTP/2, hand [`BraidExecutor`] to `hyper::server::conn::http2::Builder::new` or
//! `hyper::client::conn::http2::handshake`; the rest is the same.
//!
//! # Which executor
//!
//! Serve connections on the loop that accepted them, with [`BraidExecutor`]: braid's sockets
//! work only on their loop, and the services can share state through `Rc`. Reach for
//! [`HandleExecutor`] only when the code that hands hyper its executor runs on another thread,
//! or when a library asks for a `Send + Sync` spawner. It spawns only `Send` futures onto the
//! loop of its [`Handle`](braid_executor::Handle). braid's sockets are `Send`, so a task that
//! owns one (an HTTP/2 client's connection task) may go through it too, as long as that loop
//! is the socket's own; elsewhere the socket's first operation panics.
//!
//! [`BraidIo`] is `Send` when its stream is, as hyper's `with_upgrades()` and pooled clients
//! ask.
//!
//! # Upgrades
//!
//! A server that answers `101 Switching Protocols` serves its connection with
//! `.with_upgrades()` and gets the raw connection back from `hyper::upgrade::on(request)`;
//! wrapped in [`FuturesIo`], it is a `futures::io` stream for the next protocol.
//! `examples/hyper_websocket.rs` runs a WebSocket echo that way.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "client")]
mod client;
mod compat;
mod executor;
mod io;
mod timer;

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use client::{client, BraidConnector, Connecting};
pub use compat::FuturesIo;
pub use executor::{BraidExecutor, CallerLoopExecutor, HandleExecutor};
pub use io::{BraidIo, Stream};
pub use timer::BraidTimer;
