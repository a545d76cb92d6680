//! Sockets are `Send + Sync`: they move between threads, work only on their own loop, and,
//! dropped anywhere else, are deregistered and closed by that loop.

mod common;

use std::any::Any;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use braid_executor::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use braid_executor::{yield_now, EventLoop};
// Counting descriptors needs /proc/self/fd; elsewhere the test below is left out at build,
// as the platform check it needs does not exist there.
#[cfg(target_os = "linux")]
use common::{open_descriptors, raise_fd_limit};
use common::{serial, within};
use futures::{AsyncReadExt, AsyncWriteExt, FutureExt};

const WRONG_LOOP: &str = "used outside the running event loop that created it";

fn assert_send_sync<T: Send + Sync>() {}

fn assert_send<T: Send>(_: &T) {}

/// Whether `fd` names an open descriptor of this process.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: `F_GETFD` only reads the descriptor's flags; an unknown number gives `EBADF`.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

/// A Unix stream registered with the running loop, and its peer as a plain blocking socket.
fn registered_pair() -> (UnixStream, std::os::unix::net::UnixStream) {
    let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
    (UnixStream::from_std(ours).unwrap(), peer)
}

/// Lets the loop running this future take a few turns.
async fn turns(count: usize) {
    for _ in 0..count {
        yield_now().await;
    }
}

#[test]
fn the_socket_types_are_send_and_sync() {
    assert_send_sync::<TcpStream>();
    assert_send_sync::<TcpListener>();
    assert_send_sync::<UdpSocket>();
    assert_send_sync::<UnixStream>();
    assert_send_sync::<UnixListener>();
}

#[test]
fn the_socket_futures_are_send() {
    let _serial = serial();
    let connect = TcpStream::connect("127.0.0.1:9");
    assert_send(&connect);
    assert_send(&TcpStream::connect(("localhost", 9)));
    assert_send(&TcpListener::bind("127.0.0.1:0"));
    assert_send(&UdpSocket::bind("127.0.0.1:0"));
    assert_send(&UnixStream::connect("/nonexistent/braid"));
    assert_send(&UnixListener::bind("/nonexistent/braid"));
    drop(connect);
    within(Duration::from_secs(30), || {
        braid_executor::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accept = listener.accept();
            assert_send(&accept);
            drop(accept);
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut buf = [0; 4];
            assert_send(&client.recv(&mut buf));
            assert_send(&client.send(b"ping"));
            assert_send(&client.send_all(b"ping"));
            assert_send(&client.read(&mut buf));
            assert_send(&client.write_all(b"ping"));
            drop(server);

            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let target = udp.local_addr().unwrap();
            assert_send(&udp.send_to(b"x", target));
            assert_send(&udp.send_to(b"x", "localhost:9"));
            assert_send(&udp.recv_from(&mut buf));
            assert_send(&udp.recv(&mut buf));
            assert_send(&udp.send(b"x"));

            let (mut unix, _peer) = registered_pair();
            assert_send(&unix.recv(&mut buf));
            assert_send(&unix.send(b"x"));
            assert_send(&unix.read(&mut buf));
            assert_send(&unix.write_all(b"x"));
        });
    });
}

#[test]
fn a_stream_moved_into_a_send_task_on_its_loop_works() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let handle = event_loop.handle();
        event_loop.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let echo = handle
                .spawn(async move {
                    let mut server = server;
                    let mut buf = [0; 5];
                    server.read_exact(&mut buf).await.unwrap();
                    server.write_all(&buf).await.unwrap();
                    server
                })
                .unwrap();
            client.send_all(b"hello").await.unwrap();
            let mut buf = [0; 5];
            (&client).read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello");
            let server = echo.await.unwrap();
            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        });
    });
}

#[test]
fn a_stream_used_on_another_thread_panics_clearly() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let (stream, mut peer) = event_loop.block_on(async { registered_pair() });
        let fd = stream.as_raw_fd();
        let used = std::thread::spawn(move || {
            let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut buf = [0; 1];
                let _ = futures::executor::block_on(stream.recv(&mut buf));
            }))
            .expect_err("reading on another thread must panic");
            panic_text(&*panic)
        })
        .join()
        .unwrap();
        assert!(used.contains(WRONG_LOOP), "unclear panic: {used:?}");
        // The stream was dropped on that thread; its loop closes it on its next turn.
        event_loop.block_on(turns(3));
        assert!(
            !is_open(fd),
            "the loop closed the stream dropped on another thread"
        );
        let mut rest = Vec::new();
        assert_eq!(
            peer.read_to_end(&mut rest).unwrap(),
            0,
            "the peer sees end-of-file"
        );
    });
}

#[test]
fn a_stream_dropped_on_another_thread_is_deregistered_and_closed_by_its_loop() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        braid_executor::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let fd = server.as_raw_fd();
            std::thread::spawn(move || drop(server)).join().unwrap();
            assert!(
                is_open(fd),
                "the descriptor stays open until its loop has deregistered it"
            );
            let mut buf = [0; 1];
            assert_eq!(
                client.recv(&mut buf).await.unwrap(),
                0,
                "the client sees end-of-file"
            );
            turns(3).await;
            assert!(!is_open(fd), "the loop closed the descriptor");
        });
    });
}

#[test]
fn a_stream_dropped_after_its_loop_ended_closes_at_once() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let (stream, mut peer) = event_loop.block_on(async { registered_pair() });
        let fd = stream.as_raw_fd();
        drop(event_loop);
        assert!(is_open(fd));
        std::thread::spawn(move || drop(stream)).join().unwrap();
        assert!(!is_open(fd), "no loop is left to hand the descriptor to");
        let mut rest = Vec::new();
        assert_eq!(peer.read_to_end(&mut rest).unwrap(), 0);

        // The same on the thread the loop ran on.
        let event_loop = EventLoop::new().unwrap();
        let (stream, _peer) = event_loop.block_on(async { registered_pair() });
        let fd = stream.as_raw_fd();
        drop(event_loop);
        drop(stream);
        assert!(!is_open(fd));
    });
}

#[test]
fn a_stream_dropped_while_its_loop_is_idle_is_closed_by_its_next_turn_or_its_end() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let (first, _peer) = event_loop.block_on(async { registered_pair() });
        let (second, mut second_peer) = event_loop.block_on(async { registered_pair() });
        let (first_fd, second_fd) = (first.as_raw_fd(), second.as_raw_fd());

        // On the loop's thread, but outside `block_on`: the loop is not running.
        drop(first);
        assert!(
            is_open(first_fd),
            "queued for the loop, not closed behind its back"
        );
        event_loop.block_on(turns(3));
        assert!(!is_open(first_fd), "the loop's next turn closed it");

        // Queued, and the loop ends without another turn.
        std::thread::spawn(move || drop(second)).join().unwrap();
        assert!(is_open(second_fd));
        drop(event_loop);
        assert!(
            !is_open(second_fd),
            "the ending loop closed what was queued"
        );
        let mut rest = Vec::new();
        assert_eq!(second_peer.read_to_end(&mut rest).unwrap(), 0);
    });
}

#[cfg(target_os = "linux")]
#[test]
fn a_thousand_sockets_dropped_from_another_thread_leak_no_descriptor() {
    let _serial = serial();
    raise_fd_limit(4096);
    within(Duration::from_secs(60), || {
        let event_loop = EventLoop::new().unwrap();
        let before = open_descriptors();
        let sockets = event_loop.block_on(async {
            let mut sockets = Vec::new();
            for _ in 0..500 {
                let (a, b) = UnixStream::pair().unwrap();
                sockets.push(a);
                sockets.push(b);
            }
            sockets
        });
        assert_eq!(open_descriptors(), before + 1000);
        event_loop.block_on(async {
            std::thread::spawn(move || drop(sockets)).join().unwrap();
            turns(3).await;
        });
        assert_eq!(open_descriptors(), before, "every socket was closed");

        // And while the loop waits for the dropping thread.
        event_loop.block_on(async {
            let mut sockets = Vec::new();
            for _ in 0..1000 {
                sockets.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            }
            braid_executor::spawn_blocking(move || drop(sockets))
                .await
                .unwrap();
            turns(3).await;
        });
        assert_eq!(open_descriptors(), before, "every socket was closed");
    });
}

#[test]
fn a_stream_used_inside_another_loop_panics_and_its_own_loop_still_closes_it() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let loop_a = EventLoop::new().unwrap();
        let (stream, mut peer) = loop_a.block_on(async { registered_pair() });
        let fd = stream.as_raw_fd();
        let used = std::thread::spawn(move || {
            let loop_b = EventLoop::new().unwrap();
            loop_b.block_on(async move {
                let mut buf = [0; 1];
                let panic = AssertUnwindSafe(stream.recv(&mut buf))
                    .catch_unwind()
                    .await
                    .expect_err("reading inside another loop must panic");
                // Dropped here, inside loop B: handed to loop A.
                drop(stream);
                panic_text(&*panic)
            })
        })
        .join()
        .unwrap();
        assert!(used.contains(WRONG_LOOP), "unclear panic: {used:?}");
        assert!(is_open(fd), "loop B left the descriptor to loop A");
        loop_a.block_on(turns(3));
        assert!(!is_open(fd), "loop A closed it");
        let mut rest = Vec::new();
        assert_eq!(peer.read_to_end(&mut rest).unwrap(), 0);
    });
}

#[test]
fn a_listener_used_on_a_runtime_loop_it_does_not_belong_to_panics_clearly() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let listener =
            event_loop.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
        let fd = listener.as_raw_fd();
        let runtime = braid_executor::Runtime::builder().loops(1).build().unwrap();
        let task = runtime
            .spawn(async move {
                let panic = AssertUnwindSafe(listener.accept())
                    .catch_unwind()
                    .await
                    .map(drop)
                    .expect_err("accepting inside another loop must panic");
                panic_text(&*panic)
            })
            .unwrap();
        let used = runtime.block_on(task).unwrap();
        assert!(used.contains(WRONG_LOOP), "unclear panic: {used:?}");
        runtime.shutdown();
        event_loop.block_on(turns(3));
        assert!(!is_open(fd), "the listener's own loop closed it");
    });
}

#[test]
fn a_waiting_read_dropped_on_another_thread_leaves_the_stream_working() {
    let _serial = serial();
    within(Duration::from_secs(30), || {
        braid_executor::run(async {
            let (stream, mut peer) = registered_pair();
            let stream = std::sync::Arc::new(stream);
            let waiting = stream.clone();
            let mut read = Box::pin(async move {
                let mut buf = [0; 1];
                waiting.recv(&mut buf).await
            });
            assert!(
                futures::poll!(read.as_mut()).is_pending(),
                "nothing was sent"
            );
            // Its place among the waiters cannot be given back from there; nothing panics.
            std::thread::spawn(move || drop(read)).join().unwrap();

            std::io::Write::write_all(&mut peer, b"x").unwrap();
            let mut buf = [0; 1];
            assert_eq!(stream.recv(&mut buf).await.unwrap(), 1);
            assert_eq!(&buf, b"x");
        });
    });
}
