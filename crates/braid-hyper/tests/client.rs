//! hyper-util's pooled client and hyper's upgrades on braid's loop: both need `Send` sockets.
#![cfg(feature = "client")]

use std::cell::Cell;
use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::rc::Rc;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use braid_executor::net::{TcpListener, TcpStream};
use braid_hyper::{BraidIo, BraidTimer, FuturesIo};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

mod common;

use common::{run, Result, HANG};

/// An HTTP/1.1 server on this loop that answers `GET /n` with `n`, counting the connections
/// it accepted.
async fn counting_server() -> Result<(SocketAddr, Rc<Cell<usize>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accepted = Rc::new(Cell::new(0));
    let count = accepted.clone();
    braid_executor::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.set(count.get() + 1);
            let echo_path = service_fn(|request: Request<Incoming>| async move {
                let body = request.uri().path().trim_start_matches('/').to_owned();
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            });
            braid_executor::spawn(
                hyper::server::conn::http1::Builder::new()
                    .timer(BraidTimer)
                    .serve_connection(BraidIo::new(stream), echo_path),
            )
            .detach();
        }
    })
    .detach();
    Ok((addr, accepted))
}

async fn text(response: Response<Incoming>) -> Result<String> {
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(bytes.to_vec())?)
}

#[test]
fn pooled_client_sends_1000_gets_over_one_kept_connection() -> Result {
    run(async {
        let (addr, accepted) = counting_server().await?;
        let client = braid_hyper::client::<Empty<Bytes>>();
        for i in 0..1000 {
            let response = client.get(format!("http://{addr}/{i}").parse()?).await?;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(text(response).await?, i.to_string());
        }
        assert_eq!(accepted.get(), 1, "the pool kept and reused its connection");
        Ok(())
    })
}

#[test]
fn pooled_client_serves_concurrent_requests_and_keeps_the_connections() -> Result {
    run(async {
        let (addr, accepted) = counting_server().await?;
        let client = braid_hyper::client::<Empty<Bytes>>();
        let ask = |i: usize| {
            let client = client.clone();
            async move {
                let response = client.get(format!("http://{addr}/{i}").parse()?).await?;
                text(response).await
            }
        };
        let first = braid_executor::gather((0..20).map(ask)).await;
        for (i, body) in first.into_iter().enumerate() {
            assert_eq!(body?, i.to_string());
        }
        let opened = accepted.get();
        assert!((1..=20).contains(&opened), "{opened} connections");
        // One at a time now: the idle connections in the pool serve them all.
        for i in 0..20 {
            assert_eq!(ask(i).await?, i.to_string());
        }
        assert_eq!(accepted.get(), opened, "no new connection was needed");
        Ok(())
    })
}

#[test]
fn pooled_client_reports_a_refused_connection_as_a_connect_error() -> Result {
    run(async {
        // A port that was just free: nothing listens there.
        let addr = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
        let client = braid_hyper::client::<Empty<Bytes>>();
        let error = client
            .get(format!("http://{addr}/").parse()?)
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        Ok(())
    })
}

#[test]
fn pooled_client_refuses_https_clearly() -> Result {
    run(async {
        let client = braid_hyper::client::<Empty<Bytes>>();
        let error = client
            .get("https://127.0.0.1:1/".parse()?)
            .await
            .unwrap_err();
        let mut chain = error.to_string();
        let mut cause = error.source();
        while let Some(next) = cause {
            chain = format!("{chain}: {next}");
            cause = next.source();
        }
        assert!(chain.contains("plain http"), "{chain}");
        Ok(())
    })
}

#[test]
fn http_upgrade_hands_both_sides_the_raw_connection() -> Result {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        braid_executor::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let upgrade = service_fn(|request: Request<Incoming>| async move {
                // Echo every byte that follows the upgrade, until the client closes.
                braid_executor::spawn(async move {
                    let upgraded = hyper::upgrade::on(request).await.unwrap();
                    let mut io = FuturesIo::new(upgraded);
                    let mut bytes = Vec::new();
                    io.read_to_end(&mut bytes).await.unwrap();
                    io.write_all(&bytes).await.unwrap();
                    io.close().await.unwrap();
                })
                .detach();
                let mut response = Response::new(Empty::<Bytes>::new());
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                response
                    .headers_mut()
                    .insert(UPGRADE, "echo".parse().unwrap());
                response
                    .headers_mut()
                    .insert(CONNECTION, "upgrade".parse().unwrap());
                Ok::<_, Infallible>(response)
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(BraidIo::new(stream), upgrade)
                .with_upgrades()
                .await
                .unwrap();
        })
        .detach();

        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(BraidIo::new(stream)).await?;
        braid_executor::spawn(connection.with_upgrades()).detach();
        let request = Request::get("/")
            .header(UPGRADE, "echo")
            .header(CONNECTION, "upgrade")
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let mut io = FuturesIo::new(hyper::upgrade::on(response).await?);
        io.write_all(b"no longer HTTP").await?;
        io.close().await?;
        let mut echoed = Vec::new();
        io.read_to_end(&mut echoed).await?;
        assert_eq!(echoed, b"no longer HTTP");
        Ok(())
    })
}

#[test]
fn websocket_echo_through_a_hyper_upgrade() -> Result {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        braid_executor::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let websocket = service_fn(|request: Request<Incoming>| async move {
                let Some(key) = request.headers().get(SEC_WEBSOCKET_KEY) else {
                    let mut refused = Response::new(Empty::<Bytes>::new());
                    *refused.status_mut() = StatusCode::BAD_REQUEST;
                    return Ok::<_, Infallible>(refused);
                };
                let accept = derive_accept_key(key.as_bytes());
                braid_executor::spawn(async move {
                    let upgraded = hyper::upgrade::on(request).await.unwrap();
                    let mut socket = WebSocketStream::from_raw_socket(
                        FuturesIo::new(upgraded),
                        Role::Server,
                        None,
                    )
                    .await;
                    while let Some(message) = socket.next().await {
                        let message = message.unwrap();
                        if message.is_text() || message.is_binary() {
                            socket.send(message).await.unwrap();
                        }
                    }
                })
                .detach();
                let mut response = Response::new(Empty::<Bytes>::new());
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let headers = response.headers_mut();
                headers.insert(UPGRADE, "websocket".parse().unwrap());
                headers.insert(CONNECTION, "upgrade".parse().unwrap());
                headers.insert(SEC_WEBSOCKET_ACCEPT, accept.parse().unwrap());
                Ok(response)
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(BraidIo::new(stream), websocket)
                .with_upgrades()
                .await
                .unwrap();
        })
        .detach();

        let stream = TcpStream::connect(addr).await?;
        let (mut socket, response) =
            async_tungstenite::client_async(format!("ws://{addr}/echo"), stream).await?;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        socket.send(Message::text("hello over braid")).await?;
        assert_eq!(
            socket.next().await.ok_or("closed")??,
            Message::text("hello over braid")
        );
        socket.send(Message::binary(vec![0u8, 1, 2, 255])).await?;
        assert_eq!(
            socket.next().await.ok_or("closed")??,
            Message::binary(vec![0u8, 1, 2, 255])
        );
        socket.close(None).await?;
        // The server answers the close; the stream then ends.
        while let Some(message) = socket.next().await {
            assert!(message?.is_close());
        }
        Ok(())
    })
}

/// GETs `/path` from `addr` through `client` on the running loop; the body, or what failed.
async fn fetch(
    client: &hyper_util::client::legacy::Client<braid_hyper::BraidConnector, Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> std::result::Result<String, String> {
    let request = async {
        let response = client.get(format!("http://{addr}/{path}").parse()?).await?;
        text(response).await
    };
    match braid_executor::timeout(HANG, request).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(error)) => Err(format!("request failed: {error:?}")),
        Err(_) => Err("the request hung".into()),
    }
}

#[test]
fn a_client_built_on_one_loop_sends_from_another_while_the_first_runs() {
    let (to_main, from_a) = std::sync::mpsc::channel();
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let a = std::thread::spawn(move || {
        braid_executor::run(async move {
            to_main.send(braid_hyper::client::<Empty<Bytes>>()).unwrap();
            let _ = stopped.await;
        })
    });
    let client = from_a.recv().unwrap();
    let outcome = braid_executor::run(async move {
        let (addr, accepted) = counting_server().await.map_err(|e| e.to_string())?;
        let mut bodies = Vec::new();
        for i in 0..3 {
            bodies.push(fetch(&client, addr, &i.to_string()).await?);
        }
        Ok::<_, String>((bodies, accepted.get()))
    });
    let _ = stop.send(());
    assert!(
        a.join().is_ok(),
        "the loop the client was built on panicked"
    );
    let (bodies, accepted) = outcome.unwrap();
    assert_eq!(bodies, ["0", "1", "2"]);
    assert_eq!(accepted, 1, "the connection opened on this loop was kept");
}

#[test]
fn a_client_kept_past_its_loop_works_in_the_next_one() {
    let client = braid_executor::run(async { braid_hyper::client::<Empty<Bytes>>() });
    let outcome = braid_executor::run(async move {
        let (addr, _) = counting_server().await.map_err(|e| e.to_string())?;
        fetch(&client, addr, "9").await
    });
    assert_eq!(outcome, Ok("9".to_owned()));
}

#[test]
fn a_connection_kept_by_a_loop_that_ended_is_replaced_not_used() {
    // The server runs on a loop of its own, which outlives both client loops.
    let (to_main, server_addr) = std::sync::mpsc::channel();
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        braid_executor::run(async move {
            let (addr, accepted) = counting_server().await.unwrap();
            to_main.send(addr).unwrap();
            let _ = stopped.await;
            accepted.get()
        })
    });
    let addr = server_addr.recv().unwrap();
    // Loop A opens a connection, which the pool keeps; then loop A ends, and its connection
    // task with it.
    let (client, first) = braid_executor::run(async move {
        let client = braid_hyper::client::<Empty<Bytes>>();
        let first = fetch(&client, addr, "1").await;
        (client, first)
    });
    assert_eq!(first, Ok("1".to_owned()));
    // Loop B asks again: it gets an answer, over a connection of its own.
    let second = braid_executor::run(async move { fetch(&client, addr, "2").await });
    let _ = stop.send(());
    let accepted = server.join().expect("the server's loop ran to its end");
    assert_eq!(second, Ok("2".to_owned()));
    assert_eq!(accepted, 2, "loop B opened a new connection");
}
