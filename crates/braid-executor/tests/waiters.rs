//! Many tasks waiting on one socket in the same direction: each is woken when it can make
//! progress, and one that is cancelled mid-wait takes nothing from the others.

mod common;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use braid_executor::net::{TcpListener, TcpStream, UdpSocket};
use braid_executor::{spawn, timeout, yield_now, EventLoop};
use common::{raise_fd_limit, within};

/// Lets every spawned task run up to its first wait.
async fn settle() {
    for _ in 0..5 {
        yield_now().await;
    }
}

/// Connects `count` times to `addr` from a plain thread, keeping the connections open until
/// the returned handle is joined.
fn connect_from_a_thread(
    addr: SocketAddr,
    count: usize,
) -> std::thread::JoinHandle<Vec<std::net::TcpStream>> {
    std::thread::spawn(move || {
        (0..count)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect()
    })
}

/// `waiters` tasks accept on one listener shared through an `Rc`, and exactly that many
/// connections come: every task gets one.
fn accept_on_one_listener(waiters: usize) {
    raise_fd_limit(2 * waiters as u64 + 256);
    within(Duration::from_secs(120), move || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async move {
            let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            let tasks: Vec<_> = (0..waiters)
                .map(|_| {
                    let listener = listener.clone();
                    spawn(async move {
                        let (stream, peer) = listener.accept().await.unwrap();
                        assert_eq!(stream.peer_addr().unwrap(), peer);
                        peer
                    })
                })
                .collect();
            settle().await;
            let clients = connect_from_a_thread(addr, waiters);
            let mut peers = Vec::new();
            for task in tasks {
                peers.push(task.await.unwrap());
            }
            let clients = clients.join().unwrap();
            peers.sort();
            peers.dedup();
            assert_eq!(peers.len(), waiters, "a connection was accepted twice");
            drop(clients);
        });
    });
}

#[test]
fn two_tasks_accept_on_one_listener() {
    accept_on_one_listener(2);
}

#[test]
fn ten_tasks_accept_on_one_listener() {
    accept_on_one_listener(10);
}

#[test]
fn a_thousand_tasks_accept_on_one_listener() {
    accept_on_one_listener(1000);
}

/// `waiters` tasks receive on one UDP socket, and exactly that many datagrams come, a few
/// at a time so that none is dropped by a full receive buffer.
fn receive_on_one_udp_socket(waiters: usize) {
    within(Duration::from_secs(120), move || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async move {
            let server = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let addr = server.local_addr().unwrap();
            let received = Rc::new(Cell::new(0usize));
            let tasks: Vec<_> = (0..waiters)
                .map(|_| {
                    let server = server.clone();
                    let received = received.clone();
                    spawn(async move {
                        let mut buf = [0u8; 8];
                        let (n, _) = server.recv_from(&mut buf).await.unwrap();
                        received.set(received.get() + 1);
                        u32::from_le_bytes(buf[..n].try_into().unwrap())
                    })
                })
                .collect();
            settle().await;
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for i in 0..waiters as u32 {
                while i as usize - received.get() >= 32 {
                    yield_now().await;
                }
                client.send_to(&i.to_le_bytes(), addr).await.unwrap();
            }
            let mut got = Vec::new();
            for task in tasks {
                got.push(task.await.unwrap());
            }
            got.sort();
            assert_eq!(got, (0..waiters as u32).collect::<Vec<_>>());
        });
    });
}

#[test]
fn two_tasks_receive_on_one_udp_socket() {
    receive_on_one_udp_socket(2);
}

#[test]
fn ten_tasks_receive_on_one_udp_socket() {
    receive_on_one_udp_socket(10);
}

#[test]
fn a_thousand_tasks_receive_on_one_udp_socket() {
    receive_on_one_udp_socket(1000);
}

#[test]
fn a_reader_and_a_writer_share_one_stream() {
    within(Duration::from_secs(120), || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = Rc::new(TcpStream::connect(addr).await.unwrap());
            let (server, _) = listener.accept().await.unwrap();
            // Larger than the socket buffers: the writer waits for writability while the
            // reader waits for the echo.
            const LEN: usize = 4_000_000;
            let echo = spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = server.recv(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    server.send_all(&buf[..n]).await.unwrap();
                }
            });
            let writer = spawn({
                let client = client.clone();
                async move {
                    let payload: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
                    client.send_all(&payload).await.unwrap();
                    client.shutdown(std::net::Shutdown::Write).unwrap();
                }
            });
            let reader = spawn({
                let client = client.clone();
                async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut total = 0;
                    loop {
                        let n = client.recv(&mut buf).await.unwrap();
                        if n == 0 {
                            return total;
                        }
                        assert!(buf[..n]
                            .iter()
                            .enumerate()
                            .all(|(i, &b)| b == ((total + i) % 251) as u8));
                        total += n;
                    }
                }
            });
            writer.await.unwrap();
            assert_eq!(reader.await.unwrap(), LEN);
            echo.await.unwrap();
        });
    });
}

#[test]
fn cancelled_acceptors_take_no_connection_from_the_live_ones() {
    raise_fd_limit(512);
    within(Duration::from_secs(120), || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async {
            let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = listener.local_addr().unwrap();
            let accept = |listener: Rc<TcpListener>| async move {
                listener.accept().await.unwrap();
            };
            // Live, timed out, and cancelled waiters, interleaved.
            let mut live = Vec::new();
            let mut timed_out = Vec::new();
            let mut cancelled = Vec::new();
            for _ in 0..10 {
                live.push(spawn(accept(listener.clone())));
                timed_out.push(spawn(timeout(
                    Duration::from_millis(5),
                    accept(listener.clone()),
                )));
                cancelled.push(spawn(accept(listener.clone())));
            }
            settle().await;
            for task in &cancelled {
                task.cancel();
            }
            for task in timed_out {
                assert!(task.await.unwrap().is_err(), "no connection was made yet");
            }
            let clients = connect_from_a_thread(addr, live.len());
            for task in live {
                task.await.unwrap();
            }
            drop(clients.join().unwrap());
        });
    });
}

#[test]
fn cancelled_receivers_take_no_datagram_from_the_live_ones() {
    within(Duration::from_secs(120), || {
        let event_loop = EventLoop::new().unwrap();
        event_loop.block_on(async {
            let server = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let addr = server.local_addr().unwrap();
            let receive = |server: Rc<UdpSocket>| async move {
                let mut buf = [0u8; 8];
                server.recv_from(&mut buf).await.unwrap().0
            };
            let mut live = Vec::new();
            let mut timed_out = Vec::new();
            let mut cancelled = Vec::new();
            for _ in 0..10 {
                timed_out.push(spawn(timeout(
                    Duration::from_millis(5),
                    receive(server.clone()),
                )));
                live.push(spawn(receive(server.clone())));
                cancelled.push(spawn(receive(server.clone())));
            }
            settle().await;
            for task in &cancelled {
                task.cancel();
            }
            for task in timed_out {
                assert!(task.await.unwrap().is_err(), "nothing was sent yet");
            }
            for task in cancelled {
                assert!(task.await.is_err());
            }
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for _ in 0..live.len() {
                client.send_to(b"x", addr).await.unwrap();
            }
            for task in live {
                assert_eq!(task.await.unwrap(), 1);
            }
        });
    });
}

/// A waker whose drop closes a socket of the same loop.
struct OwnsSocket(#[allow(dead_code)] std::sync::Mutex<Option<braid_executor::net::UnixStream>>);

impl std::task::Wake for OwnsSocket {
    fn wake(self: std::sync::Arc<Self>) {}
}

#[test]
fn a_replaced_waker_whose_drop_closes_a_socket_is_dropped_outside_the_driver() {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Waker};

    use braid_executor::net::UnixStream;

    braid_executor::run(async {
        let (socket, _peer) = UnixStream::pair().unwrap();
        let (owned, _owned_peer) = UnixStream::pair().unwrap();
        let first = Waker::from(Arc::new(OwnsSocket(std::sync::Mutex::new(Some(owned)))));
        let mut buf = [0u8; 8];
        let mut cx = Context::from_waker(&first);
        let read = futures::io::AsyncRead::poll_read(Pin::new(&mut &socket), &mut cx, &mut buf);
        assert!(read.is_pending());
        // The driver's clone is now the waker's last reference: replacing it closes `owned`,
        // which deregisters it from the same driver.
        drop(first);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let read = futures::io::AsyncRead::poll_read(Pin::new(&mut &socket), &mut cx, &mut buf);
        assert!(read.is_pending());
    });
}

#[test]
fn a_replaced_timer_waker_whose_drop_drops_a_sleep_is_dropped_outside_the_driver() {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Wake, Waker};

    /// A waker whose drop cancels a timer of the same loop.
    struct OwnsSleep(#[allow(dead_code)] Mutex<Option<Pin<Box<braid_executor::Sleep>>>>);
    impl Wake for OwnsSleep {
        fn wake(self: Arc<Self>) {}
    }

    braid_executor::run(async {
        let mut other = Box::pin(braid_executor::sleep(Duration::from_secs(3600)));
        // Registered with the timer queue before its owner goes into a waker.
        assert!(other
            .as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
            .is_pending());
        let first = Waker::from(Arc::new(OwnsSleep(Mutex::new(Some(other)))));
        let mut sleep = Box::pin(braid_executor::sleep(Duration::from_secs(3600)));
        assert!(sleep
            .as_mut()
            .poll(&mut Context::from_waker(&first))
            .is_pending());
        drop(first);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
    });
}
