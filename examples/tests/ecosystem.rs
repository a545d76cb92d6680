//! Crates from the wider async ecosystem, run on braid's event loop.
//!
//! Three kinds, as chapter 14 ("braid and the ecosystem") sorts them:
//!
//! - crates that only need a waker (async-channel, async-lock, event-listener, futures'
//!   combinators, async-tungstenite over braid's futures-io sockets) run as they are;
//! - hyper, and axum on top of it, run through braid-hyper's glue (`examples/axum_hello.rs`,
//!   driven here with curl);
//! - tokio-only crates (reqwest) run through async-compat, or on a tokio runtime thread
//!   whose handles braid's loop awaits.
//!
//! Hang guards aside, nothing here measures time: the tests check values, counts and order.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use braid::executor::net::{TcpListener, TcpStream};
use braid::executor::{run, sleep, spawn, timeout, yield_now};
use common::{assert_one_connection, curl, require, survives_wrk, Running, CURL_ARGS, HANG_GUARD};
use examples::page_server::{PageServer, PAGE_SIZE};
use futures::{FutureExt, StreamExt};

/// Runs `future` on a braid event loop, failing the test if it hangs.
fn on_braid<F: Future>(future: F) -> F::Output {
    run(timeout(HANG_GUARD, future)).expect("the test finished within its hang guard")
}

/// Sends `signal` to the process `pid`.
fn kill(pid: u32, signal: i32) {
    let pid = libc::pid_t::try_from(pid).expect("a pid fits in pid_t");
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is a child this test owns
    // and has not reaped, so it names that child.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill failed: {}", std::io::Error::last_os_error());
}

// --- axum through hyper-util and braid-hyper: examples/axum_hello.rs ---------------------

#[test]
fn axum_hello_serves_two_routes_on_one_connection() {
    require("curl");
    let mut server = Running::start("axum_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let (body, verbose) = curl(&[
        &format!("http://{addr}/"),
        &format!("http://{addr}/json/ada"),
    ]);
    assert_eq!(
        body,
        "Hello from axum on braid!\n{\"greeting\":\"hello, ada\",\"served_by\":\"braid\"}"
    );
    assert_eq!(verbose.matches("HTTP/1.1 200 OK").count(), 2, "{verbose}");
    assert_one_connection(&verbose);
    assert!(
        verbose.contains("content-type: application/json"),
        "{verbose}"
    );
}

#[test]
fn axum_hello_speaks_http2_with_prior_knowledge() {
    require("curl");
    let mut server = Running::start("axum_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    // One URL per run: curl 7.88 fails a second request that reuses a prior-knowledge
    // connection (curl issue 10634).
    let (body, verbose) = curl(&["--http2-prior-knowledge", &format!("http://{addr}/json/h2")]);
    assert_eq!(body, "{\"greeting\":\"hello, h2\",\"served_by\":\"braid\"}");
    assert!(verbose.contains("< HTTP/2 200"), "{verbose}");
}

#[test]
fn axum_hello_survives_wrk() {
    survives_wrk("axum_hello");
}

#[test]
fn axum_hello_echoes_posts_and_answers_unknown_paths_with_404() {
    require("curl");
    let mut server = Running::start("axum_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let (body, _) = curl(&["--data", "round and back", &format!("http://{addr}/echo")]);
    assert_eq!(body, "round and back");

    let (body, verbose) = curl(&[&format!("http://{addr}/no/such/page")]);
    assert_eq!(body, "no route for /no/such/page\n");
    assert!(verbose.contains("HTTP/1.1 404 Not Found"), "{verbose}");
    // A route that exists, with a method it does not serve.
    let (_, verbose) = curl(&[&format!("http://{addr}/echo")]);
    assert!(verbose.contains("HTTP/1.1 405"), "{verbose}");
}

#[test]
fn axum_hello_finishes_a_slow_request_after_sigterm_then_exits_0() {
    require("curl");
    let mut server = Running::start("axum_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let slow = Running::spawn(
        std::process::Command::new("curl")
            .args(CURL_ARGS)
            .arg(format!("http://{addr}/slow")),
    )
    .expect("curl starts");
    // The handler prints this when it begins: the request is in flight from here on.
    server.wait_for_line("slow request started");
    kill(server.id(), libc::SIGTERM);

    let (curl_status, body, verbose) = slow.finish();
    assert!(curl_status.success(), "the slow request failed:\n{verbose}");
    assert_eq!(body, "slow request done");
    assert!(verbose.contains("HTTP/1.1 200 OK"), "{verbose}");

    let (status, stdout, stderr) = server.finish();
    assert!(
        status.success(),
        "axum_hello exited with {status}:\n{stderr}"
    );
    assert!(stdout.contains("SIGTERM: no new connections"), "{stdout}");
    assert!(stdout.contains("every connection is closed"), "{stdout}");
}

#[test]
fn axum_hello_stops_after_a_post_to_shutdown() {
    require("curl");
    let mut server = Running::start("axum_hello", &["127.0.0.1:0"]);
    let addr = server.listening_address();
    let (body, _) = curl(&["--request", "POST", &format!("http://{addr}/shutdown")]);
    assert_eq!(body, "shutting down\n");
    let (status, stdout, stderr) = server.finish();
    assert!(
        status.success(),
        "axum_hello exited with {status}:\n{stderr}"
    );
    assert!(stdout.contains("/shutdown: no new connections"), "{stdout}");
}

// --- crates that need nothing but a waker ------------------------------------------------

#[test]
fn async_channel_is_a_bounded_mpmc_channel_between_tasks_and_a_thread() {
    let (sender, receiver) = async_channel::bounded::<u32>(2);

    // A plain thread produces 100..200 and blocks whenever two items wait.
    let thread_sender = sender.clone();
    let producer_thread = std::thread::spawn(move || {
        for item in 100..200 {
            thread_sender
                .send_blocking(item)
                .expect("receivers are open");
        }
    });
    // A plain thread consumes too, alongside the tasks.
    let thread_receiver = receiver.clone();
    let consumer_thread = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Ok(item) = thread_receiver.recv_blocking() {
            got.push(item);
        }
        got
    });

    let mut received = on_braid(async move {
        // Two producer tasks: 0..50 and 50..100.
        let producers: Vec<_> = [0..50, 50..100]
            .into_iter()
            .map(|items| {
                let sender = sender.clone();
                spawn(async move {
                    for item in items {
                        sender.send(item).await.expect("receivers are open");
                        assert!(sender.len() <= 2, "the channel holds at most 2");
                    }
                })
            })
            .collect();
        drop(sender);
        // Two consumer tasks.
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let receiver = receiver.clone();
                spawn(async move {
                    let mut got = Vec::new();
                    // Ends when every sender, the thread's included, is dropped.
                    while let Ok(item) = receiver.recv().await {
                        got.push(item);
                    }
                    got
                })
            })
            .collect();
        drop(receiver);
        for producer in producers {
            producer.await.unwrap();
        }
        let mut received = Vec::new();
        for consumer in consumers {
            received.extend(consumer.await.unwrap());
        }
        received
    });
    producer_thread.join().unwrap();
    received.extend(consumer_thread.join().unwrap());
    received.sort_unstable();
    assert_eq!(
        received,
        (0..200).collect::<Vec<_>>(),
        "each item arrives once"
    );
}

#[test]
fn async_channel_try_send_sees_a_full_channel_on_braid() {
    on_braid(async {
        let (sender, receiver) = async_channel::bounded(2);
        sender.send("a").await.unwrap();
        sender.send("b").await.unwrap();
        assert!(sender.try_send("c").unwrap_err().is_full());
        // A task blocked on the full channel goes on once there is room.
        let blocked = spawn({
            let sender = sender.clone();
            async move { sender.send("c").await }
        });
        yield_now().await;
        assert_eq!(receiver.recv().await, Ok("a"));
        blocked.await.unwrap().unwrap();
        assert_eq!(receiver.recv().await, Ok("b"));
        assert_eq!(receiver.recv().await, Ok("c"));
    });
}

#[test]
fn async_lock_mutex_rwlock_and_semaphore_work_across_braid_tasks() {
    on_braid(async {
        // Mutex: held across awaits, so each task's two entries stay together.
        let log = Rc::new(async_lock::Mutex::new(Vec::new()));
        let writers: Vec<_> = (0..5)
            .map(|i| {
                let log = Rc::clone(&log);
                spawn(async move {
                    let mut log = log.lock().await;
                    log.push((i, "in"));
                    sleep(Duration::from_millis(1)).await;
                    log.push((i, "out"));
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let log = log.lock().await;
        assert_eq!(log.len(), 10);
        for pair in log.chunks(2) {
            assert_eq!(pair[0].0, pair[1].0, "another task got in: {log:?}");
        }
        drop(log);

        // RwLock: readers share it, a writer waits for them all.
        let lock = Rc::new(async_lock::RwLock::new(0));
        let readers_inside = Rc::new(Cell::new(0));
        let most_readers = Rc::new(Cell::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (lock, inside, most) = (
                    Rc::clone(&lock),
                    Rc::clone(&readers_inside),
                    Rc::clone(&most_readers),
                );
                spawn(async move {
                    let value = lock.read().await;
                    inside.set(inside.get() + 1);
                    most.set(most.get().max(inside.get()));
                    sleep(Duration::from_millis(1)).await;
                    inside.set(inside.get() - 1);
                    *value
                })
            })
            .collect();
        let writer = spawn({
            let (lock, inside) = (Rc::clone(&lock), Rc::clone(&readers_inside));
            async move {
                let mut value = lock.write().await;
                assert_eq!(inside.get(), 0, "a writer got in beside readers");
                *value = 7;
            }
        });
        for reader in readers {
            assert_eq!(reader.await.unwrap(), 0, "the readers came first");
        }
        writer.await.unwrap();
        assert_eq!(*lock.read().await, 7);
        assert_eq!(most_readers.get(), 3, "the readers held the lock together");

        // Semaphore: two permits, six tasks; never more than two inside.
        let permits = Rc::new(async_lock::Semaphore::new(2));
        let inside = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (permits, inside, most) =
                    (Rc::clone(&permits), Rc::clone(&inside), Rc::clone(&most));
                spawn(async move {
                    let _permit = permits.acquire().await;
                    inside.set(inside.get() + 1);
                    most.set(most.get().max(inside.get()));
                    sleep(Duration::from_millis(1)).await;
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        assert_eq!(most.get(), 2);
        assert_eq!(permits.available_permits(), 2);
    });
}

#[test]
fn event_listener_wakes_a_braid_task_from_another_thread() {
    let event = Arc::new(event_listener::Event::new());
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    on_braid(async {
        let notifier = {
            let (event, ready) = (Arc::clone(&event), Arc::clone(&ready));
            std::thread::spawn(move || {
                ready.store(true, std::sync::atomic::Ordering::SeqCst);
                event.notify(usize::MAX);
            })
        };
        // The usual check, listen, check again: no notification is lost in between.
        while !ready.load(std::sync::atomic::Ordering::SeqCst) {
            let listener = event.listen();
            if ready.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            listener.await;
        }
        notifier.join().unwrap();
    });
    assert!(ready.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn futures_select_takes_whichever_braid_future_finishes_first() {
    on_braid(async {
        let (sender, receiver) = async_channel::bounded(1);
        spawn(async move {
            sleep(Duration::from_millis(1)).await;
            sender.send("message").await
        })
        .detach();
        let winner = futures::select! {
            _ = sleep(Duration::from_secs(3600)).fuse() => "the hour-long sleep",
            message = receiver.recv().fuse() => message.unwrap(),
        };
        assert_eq!(winner, "message");

        // A braid task is a future too.
        let quick = spawn(async { 42 });
        let chosen = futures::select_biased! {
            value = quick.fuse() => value.unwrap(),
            _ = std::future::pending::<()>().fuse() => unreachable!(),
        };
        assert_eq!(chosen, 42);
    });
}

#[test]
fn futures_stream_combinators_run_braid_sleeps_and_tasks_concurrently() {
    on_braid(async {
        let running = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        // Later items sleep less: with four at a time they finish out of order.
        let mut done: Vec<u64> = futures::stream::iter(0..12u64)
            .map(|i| {
                let (running, most) = (Rc::clone(&running), Rc::clone(&most));
                async move {
                    running.set(running.get() + 1);
                    most.set(most.get().max(running.get()));
                    sleep(Duration::from_millis(12 - i)).await;
                    running.set(running.get() - 1);
                    i
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        assert_eq!(most.get(), 4, "buffer_unordered(4) ran four at once");
        done.sort_unstable();
        assert_eq!(done, (0..12).collect::<Vec<_>>());

        // `buffered` over spawned tasks keeps their order.
        let squares: Vec<u64> = futures::stream::iter(1..=6u64)
            .map(|i| spawn(async move { i * i }))
            .buffered(3)
            .map(|result| result.unwrap())
            .collect()
            .await;
        assert_eq!(squares, vec![1, 4, 9, 16, 25, 36]);
    });
}

#[test]
fn async_tungstenite_echoes_text_and_binary_and_closes_cleanly() {
    use async_tungstenite::tungstenite::Message;

    on_braid(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The server: braid's TcpStream straight into async-tungstenite.
        let server = spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut socket = async_tungstenite::accept_async(stream).await.unwrap();
            let mut echoed = 0;
            while let Some(message) = socket.next().await {
                let message = message.unwrap();
                if message.is_text() || message.is_binary() {
                    socket.send(message).await.unwrap();
                    echoed += 1;
                }
            }
            echoed
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut socket, response) =
            async_tungstenite::client_async(format!("ws://{addr}/"), stream)
                .await
                .unwrap();
        assert_eq!(response.status(), 101);
        for sent in [
            Message::text("hello over braid"),
            Message::binary(vec![0u8, 159, 255]),
            Message::text("ünïcödé"),
        ] {
            socket.send(sent.clone()).await.unwrap();
            assert_eq!(socket.next().await.unwrap().unwrap(), sent);
        }
        socket.close(None).await.unwrap();
        let mut after_close = Vec::new();
        while let Some(message) = socket.next().await {
            after_close.push(message.unwrap());
        }
        assert!(
            matches!(after_close.as_slice(), [Message::Close(_)]),
            "the server's close frame, then the end: {after_close:?}"
        );
        assert_eq!(
            server.await.unwrap(),
            3,
            "the server's stream ended after the close"
        );
    });
}

#[test]
fn websocket_echo_talks_to_itself_in_one_process() {
    let stdout = common::run_ok("websocket_echo", &["4"]);
    assert!(
        stdout.contains("4 text messages and 1 binary message came back unchanged"),
        "{stdout}"
    );
    assert!(stdout.contains("closed cleanly"), "{stdout}");
}

#[test]
fn websocket_echo_client_talks_to_websocket_echo_server() {
    let mut server = Running::start("websocket_echo", &["--serve", "127.0.0.1:0"]);
    let addr = server.listening_address().to_string();
    let stdout = common::run_ok("websocket_echo", &["--connect", &addr, "3"]);
    assert!(stdout.contains("HTTP 101"), "{stdout}");
    assert!(
        stdout.contains("3 text messages and 1 binary message came back unchanged"),
        "{stdout}"
    );
    assert!(stdout.contains("closed cleanly"), "{stdout}");
}

// --- tokio-only crates: reqwest ----------------------------------------------------------

/// GETs `url` with reqwest: status and body. Needs tokio's reactor and timers.
async fn reqwest_get(url: String) -> reqwest::Result<(u16, Vec<u8>)> {
    let response = reqwest::get(url).await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

/// A page from braid's in-process page server, and the body a plain blocking GET gets.
fn page_and_expected_body(server: &PageServer) -> (String, Vec<u8>) {
    let expected = examples::http::get_blocking(&server.url("/page/3")).unwrap();
    assert_eq!(expected.status, 200);
    assert_eq!(expected.body.len(), PAGE_SIZE);
    (format!("http://{}/page/3", server.addr()), expected.body)
}

#[test]
fn reqwest_runs_on_braid_through_async_compat() {
    let server = PageServer::start(Duration::ZERO).unwrap();
    let (url, expected) = page_and_expected_body(&server);
    let (status, body) = on_braid(async_compat::Compat::new(reqwest_get(url))).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, expected);
}

#[test]
fn reqwest_runs_on_a_tokio_runtime_thread_whose_handle_braid_awaits() {
    let server = PageServer::start(Duration::ZERO).unwrap();
    let (url, expected) = page_and_expected_body(&server);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = tokio_rt.handle().clone();
    let (status, body) = on_braid(async move {
        // braid's loop keeps running tasks while tokio does the request.
        let ticking = spawn(async {
            loop {
                sleep(Duration::from_millis(1)).await;
            }
        });
        let fetched = handle.spawn(reqwest_get(url)).await.unwrap();
        ticking.cancel();
        fetched
    })
    .unwrap();
    drop(tokio_rt);
    assert_eq!(status, 200);
    assert_eq!(body, expected);
}

#[test]
#[should_panic(expected = "Tokio 1.x runtime")]
fn reqwest_alone_on_braid_panics_for_want_of_tokio() {
    let server = PageServer::start(Duration::ZERO).unwrap();
    let url = format!("http://{}/page/1", server.addr());
    let _ = on_braid(reqwest_get(url));
}
