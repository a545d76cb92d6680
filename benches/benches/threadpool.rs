//! braid-threadpool against rayon and the `threadpool` crate, side by side on the same
//! workloads, every pool with two workers:
//!
//! - `threadpool/tiny_tasks_1m`: 1,000,000 tasks that each bump a counter, submitted from a
//!   thread outside the pool; an iteration ends when the last one ran.
//! - `threadpool/submit_join_20k`: 20,000 tasks submitted and their results collected through
//!   handles, the per-task overhead that `python/threadpool_bench.py` measures for Python's
//!   `ThreadPoolExecutor`.
//! - `threadpool/fib_32_join`: `fib(32)` through `join` with no sequential cutoff.
//! - `threadpool/primes_below_2e7`: counting primes below 2·10^7 in chunks (segmented sieve), on
//!   one thread and on each pool.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

const WORKERS: usize = 2;
const TINY_TASKS: usize = 1_000_000;
const SUBMIT_JOIN_TASKS: usize = 20_000;
const FIB_N: u32 = 32;
const PRIME_LIMIT: u64 = 20_000_000;
const PRIME_CHUNK: u64 = 1 << 17;

/// Counts tiny tasks; the one that completes the batch opens the gate.
static DONE: AtomicUsize = AtomicUsize::new(0);
static GATE: Gate = Gate::new();

struct Gate {
    open: Mutex<bool>,
    condvar: Condvar,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            condvar: Condvar::new(),
        }
    }

    fn close(&self) {
        *self.open.lock().unwrap() = false;
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.condvar.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.condvar.wait(open).unwrap();
        }
    }
}

#[inline]
fn tiny_task() {
    if DONE.fetch_add(1, Ordering::Relaxed) + 1 == TINY_TASKS {
        GATE.open();
    }
}

/// Runs one batch of tiny tasks: `submit` queues one, then this waits until all ran.
fn tiny_batch(mut submit: impl FnMut()) {
    DONE.store(0, Ordering::Relaxed);
    GATE.close();
    for _ in 0..TINY_TASKS {
        submit();
    }
    GATE.wait();
}

fn tiny_tasks(c: &mut Criterion) {
    let mut group = c.benchmark_group("threadpool/tiny_tasks_1m");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    let braid = braid_threadpool::ThreadPool::new(WORKERS).unwrap();
    group.bench_function("braid", |b| {
        b.iter(|| tiny_batch(|| drop(braid.submit(tiny_task))));
    });
    drop(braid);

    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap();
    group.bench_function("rayon_spawn", |b| {
        b.iter(|| tiny_batch(|| rayon.spawn(tiny_task)));
    });
    drop(rayon);

    let threadpool = threadpool::ThreadPool::new(WORKERS);
    group.bench_function("threadpool", |b| {
        b.iter(|| tiny_batch(|| threadpool.execute(tiny_task)));
    });
    group.finish();
}

fn submit_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("threadpool/submit_join_20k");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let braid = braid_threadpool::ThreadPool::new(WORKERS).unwrap();
    group.bench_function("braid", |b| {
        b.iter(|| {
            let handles: Vec<_> = (0..SUBMIT_JOIN_TASKS)
                .map(|i| braid.submit(move || i))
                .collect();
            let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            black_box(sum)
        });
    });
    group.finish();
}

fn fib_braid(pool: &braid_threadpool::ThreadPool, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = pool.join(|| fib_braid(pool, n - 1), || fib_braid(pool, n - 2));
    a + b
}

fn fib_rayon(n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

fn fib(c: &mut Criterion) {
    let mut group = c.benchmark_group("threadpool/fib_32_join");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    let braid = braid_threadpool::ThreadPool::new(WORKERS).unwrap();
    group.bench_function("braid", |b| {
        b.iter(|| assert_eq!(fib_braid(&braid, black_box(FIB_N)), 2_178_309));
    });
    drop(braid);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap();
    group.bench_function("rayon", |b| {
        b.iter(|| assert_eq!(rayon.install(|| fib_rayon(black_box(FIB_N))), 2_178_309));
    });
    group.finish();
}

/// Primes up to `limit` by a plain sieve, to cross off multiples in each chunk.
fn base_primes(limit: u64) -> Vec<u64> {
    let mut composite = vec![false; limit as usize + 1];
    let mut primes = Vec::new();
    for n in 2..=limit {
        if !composite[n as usize] {
            primes.push(n);
            let mut multiple = n * n;
            while multiple <= limit {
                composite[multiple as usize] = true;
                multiple += n;
            }
        }
    }
    primes
}

/// Counts primes in `[start, start + PRIME_CHUNK)`, capped at `PRIME_LIMIT`.
fn count_chunk(base: &[u64], chunk: u64) -> u64 {
    let start = chunk * PRIME_CHUNK;
    let end = (start + PRIME_CHUNK).min(PRIME_LIMIT);
    let mut composite = vec![false; (end - start) as usize];
    for &p in base {
        if p * p >= end {
            break;
        }
        let first = (p * p).max(start.div_ceil(p) * p);
        let mut multiple = first;
        while multiple < end {
            composite[(multiple - start) as usize] = true;
            multiple += p;
        }
    }
    (start.max(2)..end)
        .filter(|&n| !composite[(n - start) as usize])
        .count() as u64
}

fn primes(c: &mut Criterion) {
    const PRIMES_BELOW_2E7: u64 = 1_270_607;
    let base = base_primes((PRIME_LIMIT as f64).sqrt() as u64 + 1);
    let chunks = PRIME_LIMIT.div_ceil(PRIME_CHUNK);

    let mut group = c.benchmark_group("threadpool/primes_below_2e7");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("one_thread", |b| {
        b.iter(|| {
            let total: u64 = (0..chunks).map(|chunk| count_chunk(&base, chunk)).sum();
            assert_eq!(total, PRIMES_BELOW_2E7);
        });
    });

    let braid = braid_threadpool::ThreadPool::new(WORKERS).unwrap();
    group.bench_function("braid", |b| {
        b.iter(|| {
            let total = AtomicU64::new(0);
            braid.scope(|s| {
                for chunk in 0..chunks {
                    let (base, total) = (&base, &total);
                    s.spawn(move |_| {
                        total.fetch_add(count_chunk(base, chunk), Ordering::Relaxed);
                    });
                }
            });
            assert_eq!(total.into_inner(), PRIMES_BELOW_2E7);
        });
    });
    drop(braid);

    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap();
    group.bench_function("rayon", |b| {
        use rayon::prelude::*;
        b.iter(|| {
            let total: u64 = rayon.install(|| {
                (0..chunks)
                    .into_par_iter()
                    .map(|chunk| count_chunk(&base, chunk))
                    .sum()
            });
            assert_eq!(total, PRIMES_BELOW_2E7);
        });
    });
    group.finish();
}

criterion_group!(benches, tiny_tasks, submit_join, fib, primes);
criterion_main!(benches);
