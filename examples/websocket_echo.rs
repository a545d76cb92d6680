//! A WebSocket echo server and client on braid's event loop, with async-tungstenite.
//!
//! async-tungstenite speaks WebSocket over any `futures::io::AsyncRead + AsyncWrite`
//! stream, and braid's `TcpStream` is one, so no glue is needed: `accept_async(stream)` on
//! the server side, `client_async(url, stream)` on the client side.
//!
//! ```text
//! cargo run --example websocket_echo                            # both sides, 5 messages
//! cargo run --example websocket_echo -- --serve 127.0.0.1:9001  # a server, until Ctrl-C
//! cargo run --example websocket_echo -- --connect 127.0.0.1:9001 20
//! ```
//!
//! The client sends its text messages and one binary message, checks that each comes back
//! unchanged, then closes the connection with the WebSocket close handshake.

use std::error::Error;
use std::net::SocketAddr;

use async_tungstenite::tungstenite::Message;
use async_tungstenite::{accept_async, client_async};
use braid::executor::net::{TcpListener, TcpStream};
use braid::executor::{run, spawn};
use examples::cli::Args;
use futures::StreamExt;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

const USAGE: &str = "websocket_echo [MESSAGES]   (default 5: a server and a client in one process)
       websocket_echo --serve [ADDRESS]   (default 127.0.0.1:9001)
       websocket_echo --connect ADDRESS [MESSAGES]";

fn main() {
    let mut args = Args::from_env(USAGE);
    let default_addr = SocketAddr::from(([127, 0, 0, 1], 9001));
    let result = if args.flag("--serve") {
        let addr: SocketAddr = args.next_or("ADDRESS", default_addr);
        args.finish();
        run(serve(addr))
    } else if args.flag("--connect") {
        let addr: SocketAddr = args.next_or("ADDRESS", default_addr);
        let messages: usize = args.next_or("MESSAGES", 5);
        args.finish();
        run(talk(addr, messages))
    } else {
        let messages: usize = args.next_or("MESSAGES", 5);
        args.finish();
        run(both(messages))
    };
    if let Err(error) = result {
        eprintln!("websocket_echo: {error}");
        std::process::exit(1);
    }
}

/// A server and a client on one loop: the server accepts in a task of its own.
async fn both(messages: usize) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = spawn(accept_loop(listener));
    talk(addr, messages).await?;
    server.cancel();
    Ok(())
}

async fn serve(addr: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}/", listener.local_addr()?);
    accept_loop(listener).await
}

async fn accept_loop(listener: TcpListener) -> Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn(async move {
            if let Err(error) = echo(stream).await {
                eprintln!("websocket_echo: connection from {peer}: {error}");
            }
        })
        .detach();
    }
}

/// Sends every text and binary message back. A close frame from the client is answered by
/// async-tungstenite itself, after which the stream ends.
async fn echo(stream: TcpStream) -> Result<()> {
    let mut socket = accept_async(stream).await?;
    while let Some(message) = socket.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            socket.send(message).await?;
        }
    }
    Ok(())
}

/// The client: `messages` text messages and one binary message, each checked, then a close.
async fn talk(addr: SocketAddr, messages: usize) -> Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (mut socket, response) = client_async(format!("ws://{addr}/"), stream).await?;
    println!("connected to ws://{addr}/ (HTTP {})", response.status());

    let texts = (0..messages).map(|i| Message::text(format!("message {i}")));
    let binary = Message::binary(vec![0u8, 1, 2, 254, 255]);
    for sent in texts.chain([binary]) {
        socket.send(sent.clone()).await?;
        let echoed = socket
            .next()
            .await
            .ok_or("the server closed the connection early")??;
        if echoed != sent {
            return Err(format!("sent {sent:?} but got back {echoed:?}").into());
        }
    }
    println!("{messages} text messages and 1 binary message came back unchanged");

    // The close handshake: our close frame goes out, the server's comes back, the stream
    // ends.
    socket.close(None).await?;
    let mut closed_by_server = false;
    while let Some(message) = socket.next().await {
        closed_by_server |= matches!(message?, Message::Close(_));
    }
    if !closed_by_server {
        return Err("the server never answered the close frame".into());
    }
    println!("closed cleanly");
    Ok(())
}
