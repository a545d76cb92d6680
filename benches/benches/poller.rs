//! braid-poller against `polling` and `mio`, one group per workload. The workloads live in
//! [`benches::poller`], which `compare` runs too:
//!
//! - `poller/notify_round_trip`: a notify followed by the wait that it ends, on one thread;
//! - `poller/notify_cross_thread`: the same between two threads, a ping-pong through two
//!   pollers;
//! - `poller/socket_rounds_1000x10pct`: 1,000 socket pairs registered edge-triggered; an
//!   iteration writes one byte to 10% of them, then waits and drains until all of those were
//!   reported.

use benches::poller;
use criterion::{criterion_group, criterion_main, Criterion};

fn notify_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/notify_round_trip");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| poller::notify_one_thread_braid(iters).unwrap())
    });
    group.bench_function("polling", |b| {
        b.iter_custom(|iters| poller::notify_one_thread_polling(iters).unwrap())
    });
    group.bench_function("mio", |b| {
        b.iter_custom(|iters| poller::notify_one_thread_mio(iters).unwrap())
    });
    group.finish();
}

fn notify_cross_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/notify_cross_thread");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| poller::notify_two_threads_braid(iters).unwrap())
    });
    group.bench_function("polling", |b| {
        b.iter_custom(|iters| poller::notify_two_threads_polling(iters).unwrap())
    });
    group.bench_function("mio", |b| {
        b.iter_custom(|iters| poller::notify_two_threads_mio(iters).unwrap())
    });
    group.finish();
}

fn socket_rounds(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/socket_rounds_1000x10pct");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| poller::socket_rounds_braid(iters).unwrap())
    });
    group.bench_function("polling", |b| {
        b.iter_custom(|iters| poller::socket_rounds_polling(iters).unwrap())
    });
    group.bench_function("mio", |b| {
        b.iter_custom(|iters| poller::socket_rounds_mio(iters).unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    notify_round_trip,
    notify_cross_thread,
    socket_rounds
);
criterion_main!(benches);
