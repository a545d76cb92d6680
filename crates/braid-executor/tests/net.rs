//! Sockets: round trips, the errors users meet, fairness, and 10,000 connections.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use braid_executor::net::{
    lookup_host, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream,
};
use braid_executor::{run, sleep, spawn, spawn_blocking, yield_now, EventLoop};
use common::{raise_fd_limit, within};
use futures::{AsyncReadExt, AsyncWriteExt};

#[test]
fn tcp_echo_through_async_read_and_write() {
    within(Duration::from_secs(30), || {
        run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = spawn(async move {
                let (mut stream, peer) = listener.accept().await?;
                assert_eq!(peer, stream.peer_addr()?);
                let mut received = Vec::new();
                stream.read_to_end(&mut received).await?;
                stream.write_all(&received).await?;
                stream.close().await?;
                io::Result::Ok(received.len())
            });
            let client = TcpStream::connect(addr).await?;
            client.set_nodelay(true)?;
            assert!(client.nodelay()?);
            assert_eq!(client.peer_addr()?, addr);
            // Larger than the socket buffers, so both sides wait for writability.
            let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
            let writer = async {
                (&client).write_all(&payload).await?;
                client.shutdown(Shutdown::Write)?;
                io::Result::Ok(())
            };
            let reader = async {
                let mut echoed = Vec::new();
                (&client).read_to_end(&mut echoed).await?;
                io::Result::Ok(echoed)
            };
            let (written, echoed) = futures::join!(writer, reader);
            written?;
            assert!(echoed? == payload, "the echo matches byte for byte");
            assert_eq!(server.await.unwrap()?, payload.len());
            io::Result::Ok(())
        })
        .unwrap();
    });
}

#[test]
fn connection_refused_is_an_error() {
    run(async {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let error = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    });
}

#[test]
fn address_in_use_is_an_error() {
    run(async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let error = TcpListener::bind(first.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let error = UdpSocket::bind(udp.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    });
}

#[test]
fn a_reset_peer_is_an_error_and_a_closed_peer_is_end_of_file() {
    within(Duration::from_secs(30), || {
        run(async {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_listener.local_addr().unwrap();

            // Reset: the peer closes with SO_LINGER 0.
            let client = TcpStream::connect(addr).await.unwrap();
            let (peer, _) = std_listener.accept().unwrap();
            socket2::SockRef::from(&peer)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(peer);
            let mut buf = [0; 16];
            let error = client.recv(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");

            // Orderly close: reading gives end-of-file, writing soon fails.
            let client = TcpStream::connect(addr).await.unwrap();
            let (peer, _) = std_listener.accept().unwrap();
            drop(peer);
            assert_eq!(client.recv(&mut buf).await.unwrap(), 0);
            let mut error = None;
            for _ in 0..1000 {
                match client.send(b"into the void").await {
                    Ok(_) => sleep(Duration::from_millis(1)).await,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            let error = error.expect("writing to a closed connection must fail");
            assert!(
                matches!(
                    error.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ),
                "{error}"
            );

            // Our own side shut down for writing: further writes fail at once.
            let client = TcpStream::connect(addr).await.unwrap();
            let (_peer, _) = std_listener.accept().unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            let error = client.send(b"x").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
        });
    });
}

#[test]
fn udp_round_trip_and_connected_sockets() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        let echo = spawn(async move {
            let mut buf = [0; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            b.send_to(&buf[..n], from).await.unwrap();
            b
        });
        a.send_to(b"ping", b_addr).await.unwrap();
        let mut buf = [0; 64];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, b_addr);
        let b = echo.await.unwrap();
        a.connect(b_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        a.send(b"direct").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"direct");
    });
}

#[test]
fn a_datagram_to_a_closed_port_is_refused() {
    within(Duration::from_secs(30), || {
        run(async {
            let closed = {
                let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                socket.local_addr().unwrap()
            };
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(closed).await.unwrap();
            socket.send(b"anyone?").await.unwrap();
            let mut buf = [0; 16];
            // The refusal comes back as an ICMP message; the next receive reports it.
            let error = socket.recv(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        });
    });
}

/// A loop whose blocking pool has one thread, and a job holding that thread until the
/// returned sender sends (or is dropped): while it is held, nothing else runs on the pool.
fn loop_with_a_held_blocking_pool() -> (EventLoop, std::sync::mpsc::Sender<()>) {
    let event_loop = EventLoop::builder().blocking_threads(1).build().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel();
    event_loop.block_on(async {
        spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = released.recv();
        })
        .detach();
    });
    started.recv().unwrap();
    (event_loop, release)
}

#[test]
fn a_host_name_is_looked_up_on_the_blocking_pool() {
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let stream = TcpStream::connect(format!("localhost:{port}"))
                .await
                .unwrap();
            assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
            TcpStream::connect(("localhost", port)).await.unwrap();

            let addrs: Vec<_> = lookup_host(("localhost", 80)).await.unwrap().collect();
            assert!(!addrs.is_empty());
            assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));

            let socket = UdpSocket::bind("localhost:0").await.unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = peer.local_addr().unwrap().port();
            socket
                .send_to(b"by name", ("localhost", port))
                .await
                .unwrap();
            let mut buf = [0; 16];
            let (n, _) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"by name");
            socket.connect(format!("localhost:{port}")).await.unwrap();
        });
        // Two connects, a lookup, a bind, a send_to and a connect by name: six lookups.
        assert_eq!(event_loop.metrics().blocking_jobs, 6);
    });
}

/// The lookup cannot run while the pool's only thread is held, and the loop's other tasks
/// go on meanwhile; it finishes once the thread is free. Whether a lookup ran on the loop
/// thread is seen without any timing: had it run there, it would have finished.
#[test]
fn a_name_lookup_does_not_hold_up_the_loop() {
    within(Duration::from_secs(30), || {
        let (event_loop, release) = loop_with_a_held_blocking_pool();
        event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let connect = spawn(TcpStream::connect(format!("localhost:{port}")));
            let lookup = spawn(lookup_host("localhost:80"));
            let progress = Rc::new(Cell::new(0));
            let counter = spawn({
                let progress = progress.clone();
                async move {
                    for _ in 0..100 {
                        progress.set(progress.get() + 1);
                        yield_now().await;
                    }
                }
            });
            counter.await.unwrap();
            assert_eq!(progress.get(), 100);
            assert!(!connect.is_finished(), "the lookup ran without the pool");
            assert!(!lookup.is_finished(), "the lookup ran without the pool");

            release.send(()).unwrap();
            connect.await.unwrap().unwrap();
            assert!(lookup.await.unwrap().unwrap().next().is_some());
        });
        assert_eq!(event_loop.metrics().blocking_jobs, 3);
    });
}

#[test]
fn a_literal_address_takes_no_thread_hop() {
    within(Duration::from_secs(30), || {
        // Held for the whole test: anything that needed the pool would hang here.
        let (event_loop, _release) = loop_with_a_held_blocking_pool();
        event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            TcpStream::connect(addr).await.unwrap();
            TcpStream::connect(format!("127.0.0.1:{}", addr.port()))
                .await
                .unwrap();
            TcpStream::connect(("127.0.0.1", addr.port()))
                .await
                .unwrap();
            TcpStream::connect((addr.ip(), addr.port())).await.unwrap();
            TcpStream::connect(&[addr][..]).await.unwrap();
            let literal: Vec<_> = lookup_host("[::1]:80").await.unwrap().collect();
            assert_eq!(literal, ["[::1]:80".parse().unwrap()]);

            let socket = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = peer.local_addr().unwrap();
            socket.send_to(b"x", to).await.unwrap();
            socket.send_to(b"x", to.to_string()).await.unwrap();
            socket.connect(to).await.unwrap();
        });
        // Only the job that holds the pool.
        assert_eq!(event_loop.metrics().blocking_jobs, 1);
    });
}

#[test]
fn socket_errors_name_their_address() {
    within(Duration::from_secs(30), || {
        run(async {
            let closed = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap()
            };
            let error = TcpStream::connect(closed).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
            assert!(
                error.to_string().starts_with("connection refused"),
                "{error}"
            );
            assert!(
                error.to_string().ends_with(&format!(": {closed}")),
                "{error}"
            );
            let os_error = std::error::Error::source(error.get_ref().unwrap())
                .and_then(|source| source.downcast_ref::<io::Error>())
                .and_then(io::Error::raw_os_error);
            assert_eq!(os_error, Some(libc::ECONNREFUSED), "{error}");

            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let taken = listener.local_addr().unwrap();
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let error = TcpListener::bind(taken).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
            assert!(error.to_string().contains(&taken.to_string()), "{error}");
            let udp_taken = socket.local_addr().unwrap();
            let error = UdpSocket::bind(udp_taken).await.unwrap_err();
            assert!(
                error.to_string().contains(&udp_taken.to_string()),
                "{error}"
            );

            let unknown = "nonexistent.invalid:80";
            let error = lookup_host(unknown).await.err().unwrap();
            assert!(
                error
                    .to_string()
                    .starts_with("could not resolve nonexistent.invalid:80: "),
                "{error}"
            );
            let error = TcpStream::connect(unknown).await.unwrap_err();
            assert!(error.to_string().contains(unknown), "{error}");
            let error = TcpStream::connect(("nonexistent.invalid", 80))
                .await
                .unwrap_err();
            assert!(error.to_string().contains(unknown), "{error}");

            let error = TcpStream::connect("no port").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            assert!(error.to_string().contains("\"no port\""), "{error}");
        });
    });
}

#[test]
fn unix_listener_and_streams() {
    let dir = std::env::temp_dir().join(format!("braid-executor-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    run(async {
        let listener = UnixListener::bind(&path).await.unwrap();
        let server = spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut line = [0; 5];
            stream.read_exact(&mut line).await.unwrap();
            stream.write_all(&line).await.unwrap();
        });
        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut echoed = [0; 5];
        client.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"hello");
        server.await.unwrap();
        assert_eq!(
            client.recv(&mut echoed).await.unwrap(),
            0,
            "end-of-file after the peer left"
        );

        let error = UnixListener::bind(&path).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
        let error = UnixStream::connect(dir.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");

        let (a, b) = UnixStream::pair().unwrap();
        a.send(b"pair").await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
        b.shutdown(Shutdown::Both).unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 0);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vectored_io_through_a_reference_fills_every_buffer() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let halves = [io::IoSlice::new(b"ab"), io::IoSlice::new(b"cd")];
        // One system call for both buffers, not one buffer per call.
        assert_eq!((&a).write_vectored(&halves).await.unwrap(), 4);
        let (mut first, mut second) = ([0; 2], [0; 2]);
        let mut parts = [
            io::IoSliceMut::new(&mut first),
            io::IoSliceMut::new(&mut second),
        ];
        assert_eq!((&b).read_vectored(&mut parts).await.unwrap(), 4);
        assert_eq!((&first, &second), (b"ab", b"cd"));
    });
}

/// Wakes itself on every poll, forever.
struct Spinner(Rc<Cell<u64>>);

impl Future for Spinner {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.set(self.0.get() + 1);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_self_waking_task_does_not_starve_socket_io() {
    within(Duration::from_secs(30), || {
        run(async {
            let spins = Rc::new(Cell::new(0));
            let spinner = spawn(Spinner(spins.clone()));
            let (a, b) = UnixStream::pair().unwrap();
            let reader = spawn(async move {
                let mut buf = [0; 8];
                let n = b.recv(&mut buf).await.unwrap();
                buf[..n].to_vec()
            });
            // Make sure the reader waits on the socket (not just on its first try).
            sleep(Duration::from_millis(5)).await;
            a.send(b"through").await.unwrap();
            assert_eq!(reader.await.unwrap(), b"through");
            assert!(spins.get() > 0);
            spinner.cancel();
        });
    });
}

#[test]
fn cancelling_a_task_blocked_on_a_socket_drops_it() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let reader = spawn(async move {
            let mut buf = [0; 8];
            b.recv(&mut buf).await
        });
        sleep(Duration::from_millis(2)).await;
        reader.cancel();
        assert!(reader.await.unwrap_err().is_cancelled());
        // The peer of a dropped stream sees end-of-file.
        let mut buf = [0; 1];
        assert_eq!(a.recv(&mut buf).await.unwrap(), 0);
    });
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn a_socket_outside_a_loop_panics() {
    let _ = futures::executor::block_on(UdpSocket::bind("127.0.0.1:0"));
}

#[test]
#[should_panic(expected = "outside the running event loop that created it")]
fn a_socket_used_after_its_loop_ended_panics() {
    let event_loop = EventLoop::new().unwrap();
    let (a, _b) = event_loop.block_on(async { UnixStream::pair().unwrap() });
    let mut buf = [0; 1];
    let _ = futures::executor::block_on(a.recv(&mut buf));
}

const CONNECTIONS: usize = 10_000;
const CLIENT_ENV: &str = "BRAID_EXECUTOR_TEST_CLIENT_OF";

/// The client half, run in a child process so that each process needs only 10,000
/// descriptors: connects in waves, keeps every connection open until all have echoed.
fn run_clients(addr: &str) {
    run(async {
        let mut open = Vec::with_capacity(CONNECTIONS);
        for wave in 0..CONNECTIONS / 1000 {
            let tasks: Vec<_> = (0..1000)
                .map(|i| {
                    let id = (wave * 1000 + i) as u64;
                    let addr = addr.to_string();
                    spawn(async move {
                        let mut stream = TcpStream::connect(addr.as_str()).await.unwrap();
                        stream.write_all(&id.to_le_bytes()).await.unwrap();
                        let mut echo = [0; 8];
                        stream.read_exact(&mut echo).await.unwrap();
                        assert_eq!(u64::from_le_bytes(echo), id);
                        stream
                    })
                })
                .collect();
            for task in tasks {
                open.push(task.await.unwrap());
            }
        }
        assert_eq!(open.len(), CONNECTIONS);
    });
}

#[test]
fn ten_thousand_concurrent_tcp_connections() {
    // One end of every connection in each process, and some to spare.
    raise_fd_limit(CONNECTIONS as u64 + 100);
    if let Ok(addr) = std::env::var(CLIENT_ENV) {
        run_clients(&addr);
        return;
    }
    within(Duration::from_secs(120), || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "ten_thousand_concurrent_tcp_connections",
                    "--exact",
                    "--nocapture",
                ])
                .env(CLIENT_ENV, addr.to_string())
                .spawn()
                .unwrap();
            let echoed = Rc::new(Cell::new(0usize));
            let mut servers = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (mut stream, _) = listener.accept().await.unwrap();
                let echoed = echoed.clone();
                servers.push(spawn(async move {
                    let mut id = [0; 8];
                    stream.read_exact(&mut id).await.unwrap();
                    stream.write_all(&id).await.unwrap();
                    echoed.set(echoed.get() + 1);
                    // Hold the connection until the client closes it.
                    let mut rest = [0; 1];
                    assert_eq!(stream.read(&mut rest).await.unwrap(), 0);
                }));
            }
            for server in servers {
                server.await.unwrap();
            }
            assert_eq!(echoed.get(), CONNECTIONS);
            let status = braid_executor::spawn(async move { child.wait() })
                .await
                .unwrap()
                .unwrap();
            assert!(status.success(), "the client process failed: {status}");
        });
        assert!(event_loop.metrics().io_events >= CONNECTIONS as u64);
    });
}
