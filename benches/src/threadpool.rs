//! braid-threadpool against rayon, the `threadpool` crate and Python's
//! `ThreadPoolExecutor`, every pool with [`WORKERS`] workers.
//!
//! - tiny tasks: tasks that each bump a counter, submitted from outside the pool;
//! - submit and join: 20,000 tasks whose results come back through a handle each (rayon and
//!   `threadpool` have no handles, so each task sends its result down a channel of its own);
//! - `join` fib(32): recursive fork-join with no sequential cutoff;
//! - primes: counting primes below 2·10^7 in chunks of a segmented sieve.

use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::measurement::{Cell, LayerReport, Peer, Unit};
use crate::report::thousands;
use crate::settings::Settings;
use crate::WORKERS;

/// The layer's name.
pub const LAYER: &str = "thread pool";

const SUBMIT_JOIN_TASKS: u64 = 20_000;
const FIB_N: u32 = 32;
const FIB_32: u64 = 2_178_309;
const PRIME_LIMIT: u64 = 20_000_000;
const PRIMES_BELOW_LIMIT: u64 = 1_270_607;
const PRIME_CHUNK: u64 = 1 << 17;

/// Measures every thread-pool workload for braid and each peer.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(
        LAYER,
        vec![
            Peer::rival("rayon"),
            Peer::rival("threadpool"),
            Peer::rival("py ThreadPool"),
        ],
    );
    let pools = match Pools::new() {
        Ok(pools) => pools,
        Err(e) => {
            layer.note(format!("the pools could not be built: {e}"));
            return layer;
        }
    };

    let n = settings.pick(1_000_000, 250_000);
    layer.push(
        format!("{} tiny tasks", thousands(n)),
        Unit::NsPerOp,
        settings.measure(Unit::NsPerOp, n, || {
            Ok(tiny_batch(n, || drop(pools.braid.submit(tiny_task))))
        }),
        vec![
            settings.measure(Unit::NsPerOp, n, || {
                Ok(tiny_batch(n, || pools.rayon.spawn(tiny_task)))
            }),
            settings.measure(Unit::NsPerOp, n, || {
                Ok(tiny_batch(n, || pools.threadpool.execute(tiny_task)))
            }),
            Cell::NotApplicable,
        ],
    );

    let n = SUBMIT_JOIN_TASKS;
    let python = python_submit_join(settings, &mut layer);
    layer.push(
        "submit 20,000 tasks, join each result",
        Unit::UsPerOp,
        settings.measure(Unit::UsPerOp, n, || submit_join_braid(&pools.braid, n)),
        vec![
            settings.measure(Unit::UsPerOp, n, || {
                submit_join_channel(n, |task| pools.rayon.spawn(task))
            }),
            settings.measure(Unit::UsPerOp, n, || {
                submit_join_channel(n, |task| pools.threadpool.execute(task))
            }),
            python,
        ],
    );

    layer.push(
        "join: fib(32)",
        Unit::Ms,
        settings.measure(Unit::Ms, 1, || {
            let start = Instant::now();
            let fib = fib_braid(&pools.braid, black_box(FIB_N));
            check(fib == FIB_32, "fib(32) came out wrong")?;
            Ok(start.elapsed())
        }),
        vec![
            settings.measure(Unit::Ms, 1, || {
                let start = Instant::now();
                let fib = pools.rayon.install(|| fib_rayon(black_box(FIB_N)));
                check(fib == FIB_32, "fib(32) came out wrong")?;
                Ok(start.elapsed())
            }),
            Cell::NotApplicable,
            Cell::NotApplicable,
        ],
    );

    let base = base_primes((PRIME_LIMIT as f64).sqrt() as u64 + 1);
    layer.push(
        "count primes below 2e7, 153 chunks",
        Unit::Ms,
        settings.measure(Unit::Ms, 1, || primes_braid(&pools.braid, &base)),
        vec![
            settings.measure(Unit::Ms, 1, || primes_rayon(&pools.rayon, &base)),
            settings.measure(Unit::Ms, 1, || primes_threadpool(&pools.threadpool, &base)),
            Cell::NotApplicable,
        ],
    );
    layer.note("rayon and threadpool have no join handles: in \"submit ... join\" each task sends its result down a channel of its own");
    layer.note("py ThreadPool is concurrent.futures.ThreadPoolExecutor (python/threadpool_bench.py, best of 5 runs)");
    layer
}

struct Pools {
    braid: braid_threadpool::ThreadPool,
    rayon: rayon::ThreadPool,
    threadpool: threadpool::ThreadPool,
}

impl Pools {
    fn new() -> io::Result<Pools> {
        Ok(Pools {
            braid: braid_threadpool::ThreadPool::new(WORKERS).map_err(io::Error::other)?,
            rayon: rayon::ThreadPoolBuilder::new()
                .num_threads(WORKERS)
                .build()
                .map_err(io::Error::other)?,
            threadpool: threadpool::ThreadPool::new(WORKERS),
        })
    }
}

fn check(ok: bool, what: &str) -> io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(what.to_string()))
    }
}

/// Tiny tasks count themselves here; the one that completes the batch opens the gate. The
/// task is a plain `fn`, so no pool has a capture to allocate for.
static DONE: AtomicUsize = AtomicUsize::new(0);
static TARGET: AtomicUsize = AtomicUsize::new(0);
static GATE: Gate = Gate::new();

struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            opened: Condvar::new(),
        }
    }

    fn set(&self, open: bool) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = open;
        if open {
            self.opened.notify_all();
        }
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn tiny_task() {
    if DONE.fetch_add(1, Ordering::Relaxed) + 1 == TARGET.load(Ordering::Relaxed) {
        GATE.set(true);
    }
}

/// Submits `n` tiny tasks with `submit` and waits until all have run.
fn tiny_batch(n: u64, mut submit: impl FnMut()) -> Duration {
    DONE.store(0, Ordering::Relaxed);
    TARGET.store(n as usize, Ordering::Relaxed);
    GATE.set(false);
    let start = Instant::now();
    for _ in 0..n {
        submit();
    }
    GATE.wait();
    start.elapsed()
}

fn submit_join_braid(pool: &braid_threadpool::ThreadPool, n: u64) -> io::Result<Duration> {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| pool.submit(move || i)).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.join().map_err(io::Error::other)?;
    }
    let elapsed = start.elapsed();
    check(sum == n * (n - 1) / 2, "the results did not add up")?;
    Ok(elapsed)
}

/// Submit-and-join for pools without handles: each task sends its result down its own
/// one-slot channel, which the submitter then receives from in order.
fn submit_join_channel(n: u64, submit: impl Fn(Box<dyn FnOnce() + Send>)) -> io::Result<Duration> {
    let start = Instant::now();
    let receivers: Vec<_> = (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::sync_channel(1);
            submit(Box::new(move || {
                let _ = tx.send(i);
            }));
            rx
        })
        .collect();
    let mut sum = 0;
    for rx in receivers {
        sum += rx.recv().map_err(|_| io::Error::other("a task was lost"))?;
    }
    let elapsed = start.elapsed();
    check(sum == n * (n - 1) / 2, "the results did not add up")?;
    Ok(elapsed)
}

fn python_submit_join(settings: &Settings, layer: &mut LayerReport) -> Cell {
    let python = match &settings.python {
        Ok(python) => python,
        Err(why) => {
            layer.note(format!("py ThreadPool: {why}"));
            return Cell::Missing(why.clone());
        }
    };
    let result = python
        .run_json("threadpool_bench.py", &[], Duration::from_secs(120))
        .and_then(|reply| {
            reply["per_task_us"].as_f64().ok_or_else(|| {
                format!("threadpool_bench.py printed {reply}, which has no per_task_us")
            })
        });
    match result {
        Ok(us) => Cell::Value(us),
        Err(why) => {
            layer.note(format!("py ThreadPool: {why}"));
            Cell::Missing(why)
        }
    }
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

fn prime_chunks() -> u64 {
    PRIME_LIMIT.div_ceil(PRIME_CHUNK)
}

/// Counts primes in chunk `chunk`: `[chunk · PRIME_CHUNK, (chunk + 1) · PRIME_CHUNK)`,
/// capped at `PRIME_LIMIT`.
fn count_chunk(base: &[u64], chunk: u64) -> u64 {
    let start = chunk * PRIME_CHUNK;
    let end = (start + PRIME_CHUNK).min(PRIME_LIMIT);
    let mut composite = vec![false; (end - start) as usize];
    for &p in base {
        if p * p >= end {
            break;
        }
        let mut multiple = (p * p).max(start.div_ceil(p) * p);
        while multiple < end {
            composite[(multiple - start) as usize] = true;
            multiple += p;
        }
    }
    (start.max(2)..end)
        .filter(|&n| !composite[(n - start) as usize])
        .count() as u64
}

fn primes_braid(pool: &braid_threadpool::ThreadPool, base: &[u64]) -> io::Result<Duration> {
    let start = Instant::now();
    let total = AtomicU64::new(0);
    pool.scope(|s| {
        for chunk in 0..prime_chunks() {
            let total = &total;
            s.spawn(move |_| {
                total.fetch_add(count_chunk(base, chunk), Ordering::Relaxed);
            });
        }
    });
    let elapsed = start.elapsed();
    check(
        total.into_inner() == PRIMES_BELOW_LIMIT,
        "the prime count came out wrong",
    )?;
    Ok(elapsed)
}

fn primes_rayon(pool: &rayon::ThreadPool, base: &[u64]) -> io::Result<Duration> {
    use rayon::prelude::*;
    let start = Instant::now();
    let total: u64 = pool.install(|| {
        (0..prime_chunks())
            .into_par_iter()
            .map(|chunk| count_chunk(base, chunk))
            .sum()
    });
    let elapsed = start.elapsed();
    check(
        total == PRIMES_BELOW_LIMIT,
        "the prime count came out wrong",
    )?;
    Ok(elapsed)
}

fn primes_threadpool(pool: &threadpool::ThreadPool, base: &[u64]) -> io::Result<Duration> {
    // The crate takes only `'static` tasks, so the base primes are shared by `Arc`; the copy
    // is made before the clock starts.
    let base: Arc<[u64]> = base.into();
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    for chunk in 0..prime_chunks() {
        let (tx, base) = (tx.clone(), Arc::clone(&base));
        pool.execute(move || {
            let _ = tx.send(count_chunk(&base, chunk));
        });
    }
    drop(tx);
    let total: u64 = rx.iter().sum();
    let elapsed = start.elapsed();
    check(
        total == PRIMES_BELOW_LIMIT,
        "the prime count came out wrong",
    )?;
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_limit() {
        assert_eq!(prime_chunks(), 153);
        let base = base_primes(4473);
        assert_eq!(count_chunk(&base, 0), 12_251); // primes below 131,072
    }

    #[test]
    fn every_pool_runs_every_workload() {
        let pools = Pools::new().unwrap();
        tiny_batch(1000, || drop(pools.braid.submit(tiny_task)));
        tiny_batch(1000, || pools.rayon.spawn(tiny_task));
        tiny_batch(1000, || pools.threadpool.execute(tiny_task));
        submit_join_braid(&pools.braid, 100).unwrap();
        submit_join_channel(100, |t| pools.rayon.spawn(t)).unwrap();
        submit_join_channel(100, |t| pools.threadpool.execute(t)).unwrap();
        assert_eq!(fib_braid(&pools.braid, 20), 6765);
        assert_eq!(pools.rayon.install(|| fib_rayon(20)), 6765);
    }
}
