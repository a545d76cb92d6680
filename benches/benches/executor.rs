//! braid-executor against tokio's current-thread runtime and async-executor's
//! `LocalExecutor`, one group per workload. The workloads live in [`benches::executor`] and
//! [`benches::echo`], which `compare` runs too:
//!
//! - `executor/spawn_await`: spawn trivial tasks, then await each; an iteration is one task.
//! - `executor/sleep_100k_1ms`: 100,000 tasks each sleeping 1 ms, all awaited.
//! - `executor/channel_ping_pong`: two tasks pass a number back and forth through one-slot
//!   channels; an iteration is one round trip.
//! - `executor/yield_storm_1000_tasks`: 1,000 tasks yielding; an iteration is one yield by
//!   each of them.
//! - `executor/tcp_echo_50_connections`: braid's and tokio's echo servers, each on a thread
//!   of its own, driven by one client thread; an iteration is one 64-byte round trip on each
//!   of 50 connections.

use std::time::Duration;

use benches::echo::{self, EchoServer};
use benches::executor::{self, Runtimes};
use criterion::{criterion_group, criterion_main, Criterion};

fn spawn_await(c: &mut Criterion) {
    let runtimes = Runtimes::new().unwrap();
    let mut group = c.benchmark_group("executor/spawn_await");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| executor::spawn_await_braid(&runtimes.braid, iters).unwrap())
    });
    group.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| executor::spawn_await_tokio(&runtimes.tokio, iters).unwrap())
    });
    group.bench_function("async_executor_local", |b| {
        b.iter_custom(|iters| executor::spawn_await_local(&runtimes.local, iters).unwrap())
    });
    group.finish();
}

fn sleeps(c: &mut Criterion) {
    let runtimes = Runtimes::new().unwrap();
    let mut group = c.benchmark_group("executor/sleep_100k_1ms");
    group.sample_size(20);
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| executor::sleeps_braid(&runtimes.braid, iters).unwrap())
    });
    group.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| executor::sleeps_tokio(&runtimes.tokio, iters).unwrap())
    });
    group.finish();
}

fn ping_pong(c: &mut Criterion) {
    let runtimes = Runtimes::new().unwrap();
    let mut group = c.benchmark_group("executor/channel_ping_pong");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| executor::ping_pong_braid(&runtimes.braid, iters).unwrap())
    });
    group.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| executor::ping_pong_tokio(&runtimes.tokio, iters).unwrap())
    });
    group.bench_function("async_executor_local", |b| {
        b.iter_custom(|iters| executor::ping_pong_local(&runtimes.local, iters).unwrap())
    });
    group.finish();
}

fn yield_storm(c: &mut Criterion) {
    let runtimes = Runtimes::new().unwrap();
    let mut group = c.benchmark_group("executor/yield_storm_1000_tasks");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| executor::yield_storm_braid(&runtimes.braid, iters).unwrap())
    });
    group.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| executor::yield_storm_tokio(&runtimes.tokio, iters).unwrap())
    });
    group.bench_function("async_executor_local", |b| {
        b.iter_custom(|iters| executor::yield_storm_local(&runtimes.local, iters).unwrap())
    });
    group.finish();
}

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor/tcp_echo_50_connections");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, server) in [
        ("braid", EchoServer::braid().unwrap()),
        ("tokio_current_thread", EchoServer::tokio().unwrap()),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| echo::drive(server.addr(), echo::CONNECTIONS, iters).unwrap())
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    spawn_await,
    sleeps,
    ping_pong,
    yield_storm,
    tcp_echo
);
criterion_main!(benches);
