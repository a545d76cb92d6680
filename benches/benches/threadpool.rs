//! braid-threadpool against rayon and the `threadpool` crate, every pool with two workers,
//! one group per workload. The workloads live in [`benches::threadpool`], which `compare`
//! runs too:
//!
//! - `threadpool/tiny_tasks`: tasks that each bump a counter, submitted from a thread outside
//!   the pool; an iteration is one task.
//! - `threadpool/submit_join`: tasks submitted and their results collected through handles
//!   (a channel per task for the pools without handles); an iteration is one task.
//! - `threadpool/fib_32_join`: `fib(32)` through `join` with no sequential cutoff.
//! - `threadpool/primes_below_2e7`: counting primes below 2·10^7 in 153 chunks on one thread
//!   and on each pool.

use std::time::Duration;

use benches::threadpool::{self, Pools};
use criterion::{criterion_group, criterion_main, Criterion};

fn tiny_tasks(c: &mut Criterion) {
    let pools = Pools::new().unwrap();
    let mut group = c.benchmark_group("threadpool/tiny_tasks");
    group.bench_function("braid_spawn", |b| {
        b.iter_custom(|iters| threadpool::tiny_tasks_braid(&pools.braid, iters).unwrap())
    });
    group.bench_function("braid_submit", |b| {
        b.iter_custom(|iters| threadpool::tiny_tasks_braid_submit(&pools.braid, iters).unwrap())
    });
    group.bench_function("rayon_spawn", |b| {
        b.iter_custom(|iters| threadpool::tiny_tasks_rayon(&pools.rayon, iters).unwrap())
    });
    group.bench_function("threadpool", |b| {
        b.iter_custom(|iters| threadpool::tiny_tasks_threadpool(&pools.threadpool, iters).unwrap())
    });
    group.finish();
}

fn submit_join(c: &mut Criterion) {
    let pools = Pools::new().unwrap();
    let mut group = c.benchmark_group("threadpool/submit_join");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| threadpool::submit_join_braid(&pools.braid, iters).unwrap())
    });
    group.bench_function("rayon_channel", |b| {
        b.iter_custom(|iters| threadpool::submit_join_rayon(&pools.rayon, iters).unwrap())
    });
    group.bench_function("threadpool_channel", |b| {
        b.iter_custom(|iters| threadpool::submit_join_threadpool(&pools.threadpool, iters).unwrap())
    });
    group.finish();
}

fn fib_join(c: &mut Criterion) {
    let pools = Pools::new().unwrap();
    let mut group = c.benchmark_group("threadpool/fib_32_join");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| threadpool::fib_join_braid(&pools.braid, iters).unwrap())
    });
    group.bench_function("rayon", |b| {
        b.iter_custom(|iters| threadpool::fib_join_rayon(&pools.rayon, iters).unwrap())
    });
    group.finish();
}

fn primes(c: &mut Criterion) {
    let pools = Pools::new().unwrap();
    let mut group = c.benchmark_group("threadpool/primes_below_2e7");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("one_thread", |b| {
        b.iter_custom(|iters| threadpool::primes_one_thread(iters).unwrap())
    });
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| threadpool::primes_braid(&pools.braid, iters).unwrap())
    });
    group.bench_function("rayon", |b| {
        b.iter_custom(|iters| threadpool::primes_rayon(&pools.rayon, iters).unwrap())
    });
    group.bench_function("threadpool", |b| {
        b.iter_custom(|iters| threadpool::primes_threadpool(&pools.threadpool, iters).unwrap())
    });
    group.finish();
}

criterion_group!(benches, tiny_tasks, submit_join, fib_join, primes);
criterion_main!(benches);
