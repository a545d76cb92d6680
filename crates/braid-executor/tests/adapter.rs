//! What code adapting braid's sockets to other libraries uses: readiness, one-shot
//! attempts, peeking, owned halves, descriptors, std conversion, TTL and polled accepts.

mod common;

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use braid_executor::net::{
    OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream,
};
use braid_executor::{run, spawn, yield_now};
use common::within;
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};

fn assert_send_sync<T: Send + Sync>() {}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

fn would_block<T: std::fmt::Debug>(result: io::Result<T>) -> bool {
    matches!(result, Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Runs `test` on a fresh loop, failing instead of hanging.
fn run_guarded<F: std::future::Future<Output = ()> + 'static>(
    test: impl FnOnce() -> F + Send + 'static,
) {
    within(Duration::from_secs(60), move || run(test()));
}

#[test]
fn try_read_says_would_block_and_readable_then_waits_for_more() {
    run_guarded(|| async {
        let (client, server) = tcp_pair().await;
        let mut buf = [0; 16];
        assert!(
            would_block(server.try_read(&mut buf)),
            "nothing was sent yet"
        );
        client.send_all(b"hello").await.unwrap();
        server.readable().await.unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("{error}"),
            }
        }
        assert_eq!(got, b"hello");
        assert!(would_block(server.try_read(&mut buf)));
        let waiting = futures::poll!(pin!(server.readable()));
        assert!(waiting.is_pending(), "a WouldBlock cleared the readiness");

        // Any number of tasks may wait; one send wakes them all.
        let server = Arc::new(server);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let server = server.clone();
                spawn(async move { server.readable().await })
            })
            .collect();
        yield_now().await;
        client.send_all(b"!").await.unwrap();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(server.try_read(&mut buf).unwrap(), 1);
    });
}

#[test]
fn try_write_fills_the_socket_and_writable_waits_until_it_drains() {
    run_guarded(|| async {
        let (client, server) = tcp_pair().await;
        client.writable().await.unwrap();
        let chunk = [7u8; 65536];
        let mut written = 0;
        loop {
            match client.try_write(&chunk) {
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => panic!("{error}"),
            }
        }
        assert!(written > 0);
        let mut writable = pin!(client.writable());
        assert!(
            futures::poll!(writable.as_mut()).is_pending(),
            "the socket is full"
        );
        let reader = spawn(async move {
            let mut buf = vec![0; 65536];
            let mut read = 0;
            while read < written {
                read += server.recv(&mut buf).await.unwrap();
            }
            read
        });
        writable.await.unwrap();
        assert!(client.try_write(b"more").unwrap() > 0);
        assert!(reader.await.unwrap() >= written);
    });
}

#[test]
fn unix_streams_have_readiness_and_one_shot_attempts_too() {
    run_guarded(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let mut buf = [0; 8];
        assert!(would_block(b.try_read(&mut buf)));
        a.writable().await.unwrap();
        assert_eq!(a.try_write(b"unix").unwrap(), 4);
        b.readable().await.unwrap();
        assert_eq!(b.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"unix");
        assert!(would_block(b.try_read(&mut buf)));
        assert!(futures::poll!(pin!(b.readable())).is_pending());
    });
}

#[test]
fn udp_peeks_and_tries_without_waiting() {
    run_guarded(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0; 16];
        assert!(would_block(b.try_recv_from(&mut buf)));
        let target = b.local_addr().unwrap();
        assert_eq!(a.try_send_to(b"gram", target).unwrap(), 4);
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"gram"[..], a.local_addr().unwrap()));
        // Peeking left the datagram there.
        let (n, from) = b.try_recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"gram"[..], a.local_addr().unwrap()));
        assert!(would_block(b.try_recv_from(&mut buf)));
    });
}

#[test]
fn peek_leaves_the_bytes_for_the_next_read() {
    run_guarded(|| async {
        let (client, server) = tcp_pair().await;
        let peeker = spawn(async move {
            let mut buf = [0; 5];
            let mut peeked = 0;
            while peeked < 5 {
                peeked = server.peek(&mut buf).await.unwrap();
                yield_now().await;
            }
            let mut read = [0; 5];
            let mut got = 0;
            while got < 5 {
                got += server.recv(&mut read[got..]).await.unwrap();
            }
            (buf, read)
        });
        client.send_all(b"hello").await.unwrap();
        let (peeked, read) = peeker.await.unwrap();
        assert_eq!(&peeked, b"hello");
        assert_eq!(&read, b"hello");
    });
}

#[test]
fn owned_halves_read_and_write_apart_close_the_write_side_and_reunite() {
    assert_send_sync::<OwnedReadHalf<TcpStream>>();
    assert_send_sync::<OwnedWriteHalf<TcpStream>>();
    assert_send_sync::<OwnedReadHalf<UnixStream>>();
    assert_send_sync::<OwnedWriteHalf<UnixStream>>();
    run_guarded(|| async {
        let (client, server) = tcp_pair().await;
        let (mut read_half, mut write_half) = server.into_split();
        let echo = spawn(async move {
            let mut buf = [0; 4];
            read_half.read_exact(&mut buf).await.unwrap();
            write_half.write_all(&buf).await.unwrap();
            write_half.close().await.unwrap();
            (read_half, write_half)
        });
        client.send_all(b"echo").await.unwrap();
        let mut echoed = Vec::new();
        (&client).read_to_end(&mut echoed).await.unwrap();
        assert_eq!(
            echoed, b"echo",
            "then end-of-file: closing the write half shut it down"
        );
        let (read_half, write_half) = echo.await.unwrap();

        let (a, b) = UnixStream::pair().unwrap();
        let (a_read, a_write) = a.into_split();
        let (b_read, b_write) = b.into_split();
        let error = a_read.reunite(b_write).unwrap_err();
        let (a_read, b_write) = (error.0, error.1);
        let a = a_read.reunite(a_write).unwrap();
        let b = b_read.reunite(b_write).unwrap();
        a.send(b"ok").await.unwrap();
        let mut buf = [0; 2];
        assert_eq!(b.recv(&mut buf).await.unwrap(), 2);

        let server = read_half.reunite(write_half).unwrap();
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    });
}

#[test]
fn every_socket_shows_its_descriptor() {
    run_guarded(|| async {
        let (client, _server) = tcp_pair().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (unix, _peer) = UnixStream::pair().unwrap();
        let dir = std::env::temp_dir().join(format!("braid-adapter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fd");
        let _ = std::fs::remove_file(&path);
        let unix_listener = UnixListener::bind(&path).await.unwrap();
        let fds = [
            (client.as_fd().as_raw_fd(), client.as_raw_fd()),
            (listener.as_fd().as_raw_fd(), listener.as_raw_fd()),
            (udp.as_fd().as_raw_fd(), udp.as_raw_fd()),
            (unix.as_fd().as_raw_fd(), unix.as_raw_fd()),
            (unix_listener.as_fd().as_raw_fd(), unix_listener.as_raw_fd()),
        ];
        for (borrowed, raw) in fds {
            assert_eq!(borrowed, raw);
        }
        let addr = socket2::SockRef::from(&client).local_addr().unwrap();
        assert_eq!(addr.as_socket(), Some(client.local_addr().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn into_std_leaves_the_loop_and_stays_non_blocking() {
    run_guarded(|| async {
        let (client, server) = tcp_pair().await;
        let server = server.into_std();
        let mut buf = [0; 4];
        assert!(
            would_block(io::Read::read(&mut &server, &mut buf)),
            "still non-blocking"
        );
        // Registering it with the same loop again works only if it left the poller.
        let server = TcpStream::from_std(server).unwrap();
        client.send_all(b"back").await.unwrap();
        let mut got = 0;
        while got < 4 {
            got += server.recv(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"back");

        let (a, _b) = UnixStream::pair().unwrap();
        let a = UnixStream::from_std(a.into_std()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::from_std(listener.into_std()).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp = UdpSocket::from_std(udp.into_std()).unwrap();
        drop((a, listener, udp));

        // Off its loop, it panics like any other operation.
        let stream = TcpStream::connect(client.peer_addr().unwrap()).await;
        drop(stream);
        let moved = client;
        let panic = std::thread::spawn(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| moved.into_std())).is_err()
        })
        .join()
        .unwrap();
        assert!(panic, "into_std off the loop panics");
    });
}

#[test]
fn ttl_is_set_and_read_back() {
    run_guarded(|| async {
        let (client, _server) = tcp_pair().await;
        client.set_ttl(42).unwrap();
        assert_eq!(client.ttl().unwrap(), 42);
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.set_ttl(17).unwrap();
        assert_eq!(udp.ttl().unwrap(), 17);
    });
}

#[test]
fn poll_accept_and_incoming_hand_out_connections() {
    run_guarded(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let first = TcpStream::connect(addr).await.unwrap();
        let (accepted, peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
        assert_eq!(peer, first.local_addr().unwrap());
        assert_eq!(accepted.peer_addr().unwrap(), peer);

        let connecting = spawn(async move {
            let a = TcpStream::connect(addr).await.unwrap();
            let b = TcpStream::connect(addr).await.unwrap();
            (a, b)
        });
        let incoming: Vec<_> = listener.incoming().take(2).collect().await;
        let (a, b) = connecting.await.unwrap();
        let mut peers: Vec<_> = incoming
            .into_iter()
            .map(|stream| stream.unwrap().peer_addr().unwrap())
            .collect();
        peers.sort();
        let mut expected = vec![a.local_addr().unwrap(), b.local_addr().unwrap()];
        expected.sort();
        assert_eq!(peers, expected);

        let dir = std::env::temp_dir().join(format!("braid-accept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accept");
        let _ = std::fs::remove_file(&path);
        let unix_listener = UnixListener::bind(&path).await.unwrap();
        let client = UnixStream::connect(&path).await.unwrap();
        let (server, _) = poll_fn(|cx| unix_listener.poll_accept(cx)).await.unwrap();
        client.send(b"u").await.unwrap();
        let mut buf = [0; 1];
        assert_eq!(server.recv(&mut buf).await.unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
