//! braid-procpool's own workloads, one group each. The workloads live in
//! [`benches::procpool`], which `compare` runs too, next to Python's pools:
//!
//! - `procpool/submit_join`: trivial tasks submitted one by one, then every handle joined;
//!   an iteration is one task.
//! - `procpool/one_at_a_time`: submit one task and wait for its result; an iteration is one
//!   round trip.
//! - `procpool/map_100k_chunks_of_1000`: `map` of 100,000 trivial items in chunks of 1,000.
//! - `procpool/pool_start`: build a pool of two workers, get a result from each, shut it
//!   down, with workers started by spawning and by forking.
//! - `procpool/cpu_map_8_ranges`: primes by trial division in 8 ranges of 20,000 numbers,
//!   on the pool and in this process with no pool.
//!
//! The pool's workers run this program again, so `main` calls [`braid_procpool::init`]
//! before criterion starts; otherwise it is what `criterion_main!` writes.

use std::time::Duration;

use benches::procpool;
use benches::WORKERS;
use braid_procpool::{ProcessPool, StartMethod};
use criterion::{criterion_group, Criterion};

const CPU_RANGES: u64 = 8;

fn submit_join(c: &mut Criterion) {
    let pool = ProcessPool::new(WORKERS).unwrap();
    let mut group = c.benchmark_group("procpool/submit_join");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| procpool::submit_all(&pool, iters).unwrap())
    });
    group.finish();
}

fn one_at_a_time(c: &mut Criterion) {
    let pool = ProcessPool::new(WORKERS).unwrap();
    let mut group = c.benchmark_group("procpool/one_at_a_time");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| procpool::one_at_a_time(&pool, iters).unwrap())
    });
    group.finish();
}

fn map_chunked(c: &mut Criterion) {
    let pool = ProcessPool::new(WORKERS).unwrap();
    let mut group = c.benchmark_group("procpool/map_100k_chunks_of_1000");
    group.sample_size(20);
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| procpool::map_chunked(&pool, iters).unwrap())
    });
    group.finish();
}

fn pool_start(c: &mut Criterion) {
    let mut group = c.benchmark_group("procpool/pool_start");
    group.sample_size(20);
    group.bench_function("braid_spawn", |b| {
        b.iter_custom(|iters| procpool::pool_start(StartMethod::Spawn, iters).unwrap())
    });
    group.bench_function("braid_fork", |b| {
        b.iter_custom(|iters| procpool::pool_start(StartMethod::Fork, iters).unwrap())
    });
    group.finish();
}

fn cpu_map(c: &mut Criterion) {
    let pool = ProcessPool::new(WORKERS).unwrap();
    let mut group = c.benchmark_group("procpool/cpu_map_8_ranges");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("one_process", |b| {
        b.iter_custom(|iters| procpool::cpu_map_one_process(CPU_RANGES, iters).unwrap())
    });
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| procpool::cpu_map(&pool, CPU_RANGES, iters).unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    submit_join,
    one_at_a_time,
    map_chunked,
    pool_start,
    cpu_map
);

fn main() {
    // In a worker this serves tasks and never returns.
    braid_procpool::init();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
