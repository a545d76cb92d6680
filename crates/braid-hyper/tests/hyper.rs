//! hyper's client and server talking to each other over braid-hyper on one braid loop.

use std::cell::Cell;
use std::convert::Infallible;
use std::error::Error;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use braid_executor::net::{TcpListener, TcpStream, UnixStream};
use braid_executor::sync::Event;
use braid_hyper::{BraidExecutor, BraidIo, BraidTimer, HandleExecutor};
use futures::task::{LocalSpawnExt, Spawn, SpawnExt};
use futures::AsyncReadExt;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

mod common;

use common::{run, Result, HANG};

async fn connected_pair() -> Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((server, client))
}

async fn body_of(response: Response<Incoming>) -> Result<Bytes> {
    Ok(response.into_body().collect().await?.to_bytes())
}

fn get(path: &str) -> Result<Request<Empty<Bytes>>> {
    Ok(Request::get(path).body(Empty::new())?)
}

#[test]
fn http1_keep_alive_serves_several_requests_on_one_connection() -> Result {
    run(async {
        let (server, client) = connected_pair().await?;
        let served = Rc::new(Cell::new(0));
        let count = served.clone();
        let service = service_fn(move |_: Request<Incoming>| {
            count.set(count.get() + 1);
            let body = Full::new(Bytes::from(count.get().to_string()));
            async move { Ok::<_, Infallible>(Response::new(body)) }
        });
        let server = braid_executor::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(BraidTimer)
                .serve_connection(BraidIo::new(server), service),
        );

        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(BraidIo::new(client)).await?;
        let connection = braid_executor::spawn(connection);
        for i in 1..=5 {
            let response = sender.send_request(get("/")?).await?;
            assert_eq!(response.status(), 200);
            assert_eq!(body_of(response).await?, i.to_string());
        }
        assert_eq!(served.get(), 5);

        drop(sender);
        connection.await??;
        server.await??;
        Ok(())
    })
}

#[test]
fn http2_serves_concurrent_streams_on_one_connection() -> Result {
    const STREAMS: usize = 8;
    run(async {
        let (server, client) = connected_pair().await?;
        // Every handler waits until all of them have started: only streams served at once
        // get past it.
        let started = Rc::new(Cell::new(0));
        let all_started = Rc::new(Event::new());
        let service = service_fn(move |request: Request<Incoming>| {
            let (started, all_started) = (started.clone(), all_started.clone());
            async move {
                started.set(started.get() + 1);
                if started.get() == STREAMS {
                    all_started.set();
                }
                all_started.wait().await;
                let body = Full::new(Bytes::from(request.uri().path().to_owned()));
                Ok::<_, Infallible>(Response::new(body))
            }
        });
        braid_executor::spawn(
            hyper::server::conn::http2::Builder::new(BraidExecutor)
                .timer(BraidTimer)
                .serve_connection(BraidIo::new(server), service),
        )
        .detach();

        let (sender, connection) =
            hyper::client::conn::http2::handshake(BraidExecutor, BraidIo::new(client)).await?;
        braid_executor::spawn(connection).detach();
        let requests = (0..STREAMS).map(|i| {
            let mut sender = sender.clone();
            async move {
                let response = sender.send_request(get(&format!("/{i}"))?).await?;
                assert_eq!(response.version(), hyper::Version::HTTP_2);
                body_of(response).await
            }
        });
        let bodies = braid_executor::gather(requests).await;
        for (i, body) in bodies.into_iter().enumerate() {
            assert_eq!(body?, format!("/{i}"));
        }
        Ok(())
    })
}

/// Bytes that differ from their neighbours and from a zeroed buffer.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}

#[test]
fn large_body_echoes_byte_for_byte() -> Result {
    const LEN: usize = 4 << 20;
    run(async {
        let (server, client) = connected_pair().await?;
        // The response streams the request body back as it arrives, so both directions are
        // busy at once and the socket buffers fill: reads and writes come out partial.
        let echo = service_fn(|request: Request<Incoming>| async move {
            Ok::<_, Infallible>(Response::new(request.into_body()))
        });
        braid_executor::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(BraidIo::new(server), echo),
        )
        .detach();

        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(BraidIo::new(client)).await?;
        braid_executor::spawn(connection).detach();
        let sent = Bytes::from(pattern(LEN));
        let request = Request::post("/echo").body(Full::new(sent.clone()))?;
        let received = body_of(sender.send_request(request).await?).await?;
        assert_eq!(received.len(), LEN);
        assert!(
            received == sent,
            "the echoed body differs from what was sent"
        );
        Ok(())
    })
}

#[test]
fn header_read_timeout_closes_a_silent_connection() -> Result {
    run(async {
        let (server, mut client) = connected_pair().await?;
        let never_called = service_fn(|_: Request<Incoming>| async {
            unreachable!("no request was sent");
            #[allow(unreachable_code)]
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        });
        let server = braid_executor::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(BraidTimer)
                .header_read_timeout(Duration::from_millis(50))
                .serve_connection(BraidIo::new(server), never_called),
        );

        // The client sends nothing; the server gives up on the headers and closes.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await?;
        let error = server
            .await?
            .expect_err("the server gave up on the headers");
        assert!(error.is_timeout(), "not a timeout: {error}");
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
            "unexpected reply: {:?}",
            String::from_utf8_lossy(&rest)
        );
        Ok(())
    })
}

#[test]
fn timer_reset_moves_a_sleep_earlier() -> Result {
    use hyper::rt::Timer;
    run(async {
        let mut sleep = BraidTimer.sleep(Duration::from_secs(86_400));
        BraidTimer.reset(&mut sleep, Instant::now());
        sleep.await;
        Ok(())
    })
}

#[test]
fn unix_stream_serves_http1() -> Result {
    run(async {
        let (server, client) = UnixStream::pair()?;
        let hello = service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("over a unix socket"))))
        });
        braid_executor::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(BraidIo::new(server), hello),
        )
        .detach();

        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(BraidIo::new(client)).await?;
        braid_executor::spawn(connection).detach();
        let response = sender.send_request(get("/")?).await?;
        assert_eq!(body_of(response).await?, "over a unix socket");
        Ok(())
    })
}

#[test]
fn borrowed_streams_serve_http1() -> Result {
    run(async {
        let (server, client) = connected_pair().await?;
        let hello = service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("borrowed"))))
        });
        let serve = hyper::server::conn::http1::Builder::new()
            .serve_connection(BraidIo::new(&server), hello);
        let ask = async {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(BraidIo::new(&client)).await?;
            let mut connection = pin!(connection);
            let response = {
                let send = pin!(sender.send_request(get("/")?));
                match futures::future::select(send, connection.as_mut()).await {
                    futures::future::Either::Left((response, _)) => response?,
                    futures::future::Either::Right(_) => return Err("connection ended".into()),
                }
            };
            drop(sender);
            let body = body_of(response).await?;
            connection.await?;
            Ok::<_, Box<dyn Error>>(body)
        };
        let (served, body) = futures::join!(serve, ask);
        served?;
        assert_eq!(body?, "borrowed");
        Ok(())
    })
}

#[test]
fn closing_a_connection_shuts_the_socket_down_even_when_borrowed() -> Result {
    run(async {
        let (server, mut client) = connected_pair().await?;
        let hello = service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("bye"))))
        });
        // The server's socket outlives the connection, so only hyper's shutdown can tell the
        // client that nothing more is coming.
        let serve = hyper::server::conn::http1::Builder::new()
            .keep_alive(false)
            .serve_connection(BraidIo::new(&server), hello);
        let ask = async {
            client
                .send_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                .await?;
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await?;
            Ok::<_, Box<dyn Error>>(String::from_utf8(answer)?)
        };
        let (served, answer) = futures::join!(serve, ask);
        served?;
        let answer = answer?;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nbye"), "{answer}");
        drop(server);
        Ok(())
    })
}

#[test]
fn local_spawn_runs_a_future_that_is_not_send() -> Result {
    run(async {
        let shared = Rc::new(Cell::new(1));
        let task = BraidExecutor.spawn_local_with_handle({
            let shared = shared.clone();
            async move {
                shared.set(2);
                "done"
            }
        })?;
        assert_eq!(task.await, "done");
        assert_eq!(shared.get(), 2);
        assert_eq!(BraidExecutor.spawn_with_handle(async { 3 })?.await, 3);
        Ok(())
    })
}

#[test]
fn handle_executor_spawns_from_another_thread_and_fails_once_the_loop_is_gone() -> Result {
    let event_loop = braid_executor::EventLoop::new()?;
    let executor = HandleExecutor::new(event_loop.handle());
    let from_afar = std::thread::spawn(move || {
        let on_loop = executor.spawn_with_handle(async { std::thread::current().id() });
        (executor, on_loop)
    });
    let (executor, on_loop) = from_afar
        .join()
        .map_err(|_| "the spawning thread panicked")?;
    let ran_on = event_loop.block_on(on_loop?);
    assert_eq!(ran_on, std::thread::current().id());

    drop(event_loop);
    assert!(executor.status().unwrap_err().is_shutdown());
    let error = executor.spawn(async {}).unwrap_err();
    assert!(error.is_shutdown());
    Ok(())
}

#[test]
fn http2_server_runs_on_the_handle_executor() -> Result {
    let event_loop = braid_executor::EventLoop::new()?;
    let executor = HandleExecutor::new(event_loop.handle());
    event_loop
        .block_on(braid_executor::timeout(HANG, async move {
            let (server, client) = connected_pair().await?;
            let hello = service_fn(|_: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("sent from a handle"))))
            });
            braid_executor::spawn(
                hyper::server::conn::http2::Builder::new(executor.clone())
                    .serve_connection(BraidIo::new(server), hello),
            )
            .detach();
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(BraidExecutor, BraidIo::new(client)).await?;
            braid_executor::spawn(connection).detach();
            let response = sender.send_request(get("/")?).await?;
            assert_eq!(body_of(response).await?, "sent from a handle");
            Ok(())
        }))
        .map_err(|_| "the test hung")?
}

#[test]
fn braid_executor_reports_no_loop_as_a_spawn_error() {
    use futures::task::LocalSpawn;
    // Outside a loop: an error, not a panic, and nothing is run.
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    let error = BraidExecutor
        .spawn(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) })
        .unwrap_err();
    assert!(error.is_shutdown());
    assert!(BraidExecutor.status().unwrap_err().is_shutdown());
    assert!(BraidExecutor.status_local().unwrap_err().is_shutdown());
    assert!(BraidExecutor
        .spawn_local(async {})
        .unwrap_err()
        .is_shutdown());
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    // Inside one, both work.
    let answer = braid_executor::run(async {
        assert!(BraidExecutor.status().is_ok() && BraidExecutor.status_local().is_ok());
        BraidExecutor.spawn_with_handle(async { 7 }).unwrap().await
    });
    assert_eq!(answer, 7);
}

#[test]
fn handle_executor_current_spawns_back_onto_the_loop_from_a_thread() {
    let answer = braid_executor::run(async {
        let executor = HandleExecutor::current();
        let on_thread = std::thread::spawn(move || {
            executor
                .spawn_with_handle(async { std::thread::current().name().map(str::to_owned) })
                .unwrap()
        })
        .join()
        .unwrap();
        on_thread.await
    });
    // The future ran on the loop's thread (the test's), not on the thread that spawned it.
    assert_eq!(answer, std::thread::current().name().map(str::to_owned));
}

#[test]
fn braid_io_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BraidIo<TcpStream>>();
    assert_send_sync::<BraidIo<UnixStream>>();
    assert_send_sync::<BraidIo<&TcpStream>>();
}

#[test]
fn an_http1_upgrade_hands_both_sides_their_socket_back() -> Result {
    run(async {
        let (server, client) = connected_pair().await?;
        let echo = service_fn(|request: Request<Incoming>| async move {
            braid_executor::spawn(async move {
                let upgraded = hyper::upgrade::on(request).await?;
                let parts = upgraded
                    .downcast::<BraidIo<TcpStream>>()
                    .map_err(|_| "the upgraded I/O is not braid's")?;
                assert!(parts.read_buf.is_empty(), "the client waits for the 101");
                let stream = parts.io.into_inner();
                let mut buf = [0; 4];
                let n = stream.recv(&mut buf).await?;
                stream.send_all(&buf[..n]).await?;
                Result::Ok(())
            })
            .detach();
            Response::builder()
                .status(101)
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "echo")
                .body(Empty::<Bytes>::new())
        });
        // `with_upgrades` needs `Send` I/O.
        braid_executor::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(BraidIo::new(server), echo)
                .with_upgrades(),
        )
        .detach();

        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(BraidIo::new(client)).await?;
        braid_executor::spawn(connection.with_upgrades()).detach();
        let request = Request::builder()
            .uri("/")
            .header(hyper::header::CONNECTION, "upgrade")
            .header(hyper::header::UPGRADE, "echo")
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        assert_eq!(response.status(), 101);
        let upgraded = hyper::upgrade::on(response).await?;
        let parts = upgraded
            .downcast::<BraidIo<TcpStream>>()
            .map_err(|_| "the upgraded I/O is not braid's")?;
        let stream = parts.io.into_inner();
        stream.send_all(b"ping").await?;
        let mut buf = [0; 4];
        let mut read = 0;
        while read < 4 {
            let n = stream.recv(&mut buf[read..]).await?;
            assert_ne!(n, 0, "the server closed before echoing");
            read += n;
        }
        assert_eq!(&buf, b"ping");
        Ok(())
    })
}
