//! A WebSocket echo server reached through an HTTP/1.1 upgrade in hyper, on braid's loop,
//! and a client for it.
//!
//! The server answers `GET /ws` carrying `Upgrade: websocket` with `101 Switching
//! Protocols`; hyper then hands the raw connection over (`hyper::upgrade::on`), and
//! async-tungstenite speaks WebSocket on it through braid-hyper's `FuturesIo`. Every text or
//! binary message comes back as it went. Any other request gets `426 Upgrade Required`.
//!
//! ```text
//! cargo run --example hyper_websocket                                  # serves 127.0.0.1:8090
//! cargo run --example hyper_websocket -- --client ws://127.0.0.1:8090/ws hello there
//! ```
//!
//! The server runs until it is stopped (Ctrl-C); the client sends each word as a message,
//! prints each echo, closes the connection and exits.

use std::convert::Infallible;
use std::net::SocketAddr;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use braid::executor::net::{TcpListener, TcpStream};
use braid::executor::{run, spawn};
use braid_hyper::{BraidIo, BraidTimer, FuturesIo};
use examples::cli::Args;
use futures::StreamExt;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "hyper_websocket [ADDRESS]   (default 127.0.0.1:8090)\n       \
                     hyper_websocket --client URL MESSAGE...";

fn main() {
    let mut args = Args::from_env(USAGE);
    let outcome = if args.flag("--client") {
        let url: String = args.next_or("URL", String::new());
        if url.is_empty() {
            args.fail("--client needs a ws:// URL");
        }
        let messages: Vec<String> = args.rest("MESSAGE");
        run(client(url, messages))
    } else {
        let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8090)));
        args.finish();
        run(serve(addr))
    };
    if let Err(error) = outcome {
        eprintln!("hyper_websocket: {error}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr) -> Result<(), Error> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on {local}");
    println!("the WebSocket echo is at ws://{local}/ws");
    loop {
        let (stream, _) = listener.accept().await?;
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(BraidTimer)
            .serve_connection(BraidIo::new(stream), service_fn(route))
            // Keeps the connection alive past the 101, for `hyper::upgrade::on`.
            .with_upgrades();
        spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("connection ended: {error}");
            }
        })
        .detach();
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let wants_websocket = request
        .headers()
        .get(UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if request.uri().path() != "/ws" {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "the WebSocket echo is at /ws\n",
        ));
    }
    let key = match request.headers().get(SEC_WEBSOCKET_KEY) {
        Some(key) if wants_websocket => key.clone(),
        _ => {
            let mut response = plain(
                StatusCode::UPGRADE_REQUIRED,
                "connect a WebSocket client to this URL\n",
            );
            response
                .headers_mut()
                .insert(UPGRADE, "websocket".parse().expect("a valid header"));
            return Ok(response);
        }
    };
    // The connection changes hands once this 101 is sent; the echo runs as a task of its own.
    spawn(async move {
        if let Err(error) = echo(request).await {
            eprintln!("websocket ended: {error}");
        }
    })
    .detach();
    let mut response = plain(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert(UPGRADE, "websocket".parse().expect("a valid header"));
    headers.insert(CONNECTION, "upgrade".parse().expect("a valid header"));
    let accept = derive_accept_key(key.as_bytes());
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        accept.parse().expect("a valid header"),
    );
    Ok(response)
}

async fn echo(request: Request<Incoming>) -> Result<(), Error> {
    let upgraded = hyper::upgrade::on(request).await?;
    let mut socket =
        WebSocketStream::from_raw_socket(FuturesIo::new(upgraded), Role::Server, None).await;
    while let Some(message) = socket.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            socket.send(message).await?;
        }
    }
    Ok(())
}

async fn client(url: String, messages: Vec<String>) -> Result<(), Error> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .filter(|authority| !authority.is_empty())
        .ok_or_else(|| format!("not a ws:// URL: {url}"))?;
    let stream = TcpStream::connect(authority).await?;
    let (mut socket, _) = async_tungstenite::client_async(url.as_str(), stream).await?;
    for text in messages {
        socket.send(Message::text(text)).await?;
        match socket.next().await {
            Some(Ok(Message::Text(echoed))) => println!("echo: {echoed}"),
            Some(other) => return Err(format!("expected an echo, got {other:?}").into()),
            None => return Err("the server closed the connection".into()),
        }
    }
    socket.close(None).await?;
    // Read on until the server's answer to the close arrives and the stream ends.
    while socket.next().await.transpose()?.is_some() {}
    println!("closed");
    Ok(())
}
