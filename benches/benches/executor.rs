//! braid-executor against tokio's current-thread runtime and async-executor's
//! `LocalExecutor`, side by side on the same workloads:
//!
//! - `executor/spawn_await_100k`: spawn 100,000 trivial tasks, then await each.
//! - `executor/sleep_100k_1ms`: 100,000 tasks each sleeping 1 ms, all awaited.
//! - `executor/tcp_echo`: 50 connections x 2,000 round trips of 64 bytes against an echo
//!   server on one loop thread; the same client (a tokio current-thread runtime on its own
//!   thread) drives every server. Reported as time per full run of 100,000 round trips.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const TASKS: usize = 100_000;
const CONNECTIONS: usize = 50;
const ROUND_TRIPS: usize = 2_000;
const MESSAGE: usize = 64;

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn spawn_await(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor/spawn_await_100k");
    group.sample_size(30);
    group.bench_function("braid", |b| {
        let event_loop = braid_executor::EventLoop::new().unwrap();
        b.iter(|| {
            event_loop.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|i| braid_executor::spawn(async move { i }))
                    .collect();
                let mut sum = 0;
                for task in tasks {
                    sum += task.await.unwrap();
                }
                sum
            })
        });
    });
    group.bench_function("tokio_current_thread", |b| {
        let runtime = tokio_runtime();
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|i| tokio::task::spawn(async move { i }))
                    .collect();
                let mut sum = 0;
                for task in tasks {
                    sum += task.await.unwrap();
                }
                sum
            })
        });
    });
    group.bench_function("async_executor_local", |b| {
        let executor = async_executor::LocalExecutor::new();
        b.iter(|| {
            futures::executor::block_on(executor.run(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|i| executor.spawn(async move { i }))
                    .collect();
                let mut sum = 0;
                for task in tasks {
                    sum += task.await;
                }
                sum
            }))
        });
    });
    group.finish();
}

fn sleeps(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor/sleep_100k_1ms");
    group.sample_size(20);
    group.bench_function("braid", |b| {
        let event_loop = braid_executor::EventLoop::new().unwrap();
        b.iter(|| {
            event_loop.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| braid_executor::spawn(braid_executor::sleep(Duration::from_millis(1))))
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        });
    });
    group.bench_function("tokio_current_thread", |b| {
        let runtime = tokio_runtime();
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| tokio::task::spawn(tokio::time::sleep(Duration::from_millis(1))))
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        });
    });
    group.finish();
}

/// Starts a braid echo server on its own thread; returns its address.
fn braid_echo_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        braid_executor::run(async move {
            let listener = braid_executor::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                braid_executor::spawn(async move {
                    let mut buf = [0; 4096];
                    loop {
                        match stream.recv(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.send_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .detach();
            }
        });
    });
    rx.recv().unwrap()
}

/// Starts a tokio current-thread echo server on its own thread; returns its address.
fn tokio_echo_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        tokio_runtime().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    loop {
                        let (mut stream, _) = listener.accept().await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        tokio::task::spawn_local(async move {
                            let mut buf = [0; 4096];
                            loop {
                                match stream.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => {
                                        if stream.write_all(&buf[..n]).await.is_err() {
                                            return;
                                        }
                                    }
                                }
                            }
                        });
                    }
                })
                .await;
        });
    });
    rx.recv().unwrap()
}

/// The client shared by every server: 50 connections, each doing its round trips in turn.
fn echo_client(runtime: &tokio::runtime::Runtime, addr: SocketAddr) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    runtime.block_on(async move {
        let mut streams = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            streams.push(stream);
        }
        let start = Instant::now();
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let clients: Vec<_> = streams
                    .into_iter()
                    .map(|mut stream| {
                        tokio::task::spawn_local(async move {
                            let message = [7u8; MESSAGE];
                            let mut reply = [0u8; MESSAGE];
                            for _ in 0..ROUND_TRIPS {
                                stream.write_all(&message).await.unwrap();
                                stream.read_exact(&mut reply).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for client in clients {
                    client.await.unwrap();
                }
            })
            .await;
        start.elapsed()
    })
}

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor/tcp_echo");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let client = tokio_runtime();
    for (name, addr) in [
        ("braid", braid_echo_server()),
        ("tokio_current_thread", tokio_echo_server()),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| echo_client(&client, addr)).sum());
        });
    }
    group.finish();
}

criterion_group!(benches, spawn_await, sleeps, tcp_echo);
criterion_main!(benches);
