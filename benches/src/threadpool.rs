//! braid-threadpool against rayon, the `threadpool` crate and Python's
//! `ThreadPoolExecutor`, every pool with [`WORKERS`] workers.
//!
//! - tiny tasks: tasks that each bump a counter, spawned from outside the pool with no
//!   handle (braid's `spawn`, rayon's `spawn`, `threadpool`'s `execute`), and the same through
//!   braid's `submit` with each handle dropped;
//! - submit and join: 20,000 tasks whose results come back through a handle each (rayon and
//!   `threadpool` have no handles, so each task sends its result down a channel of its own);
//! - `join` fib(32): recursive fork-join with no sequential cutoff, against rayon's and chili's
//!   `join` and a plain recursive fib on one thread;
//! - quicksort of 2,000,000 numbers with `join` above leaves sorted by `sort_unstable`, against
//!   rayon's `par_sort_unstable` and `sort_unstable` on one thread;
//! - primes: counting primes below 2·10^7 in chunks of a segmented sieve, on each pool and
//!   on one thread, and each pool's speedup over that one thread.
//!
//! Every workload is a public function that times a number of iterations, so the criterion
//! benches run exactly what `compare` runs.

use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::measurement::{speedup, Cell, LayerReport, Peer, Unit};
use crate::report::format_value;
use crate::report::thousands;
use crate::settings::{check, check_sum, Contender, Settings};
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
            Peer::rival("chili"),
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
    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        n,
        Contender::runs(|| tiny_tasks_braid(&pools.braid, n)),
        vec![
            Contender::runs(|| tiny_tasks_rayon(&pools.rayon, n)),
            Contender::runs(|| tiny_tasks_threadpool(&pools.threadpool, n)),
            Contender::not_applicable(),
            Contender::not_applicable(),
        ],
    );
    layer.push(
        format!("{} tiny tasks, no handle (braid spawn)", thousands(n)),
        Unit::NsPerOp,
        braid,
        peers,
    );
    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        n,
        Contender::runs(|| tiny_tasks_braid_submit(&pools.braid, n)),
        vec![
            Contender::runs(|| tiny_tasks_rayon(&pools.rayon, n)),
            Contender::runs(|| tiny_tasks_threadpool(&pools.threadpool, n)),
            Contender::not_applicable(),
            Contender::not_applicable(),
        ],
    );
    layer.push(
        "the same, braid submit with each handle dropped",
        Unit::NsPerOp,
        braid,
        peers,
    );

    let n = SUBMIT_JOIN_TASKS;
    // The Python script is a whole measurement of its own (its pool, its warm-up, best of 5
    // runs), so it runs once, before the Rust pools are measured side by side.
    let python = python_submit_join(settings, &mut layer);
    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        n,
        Contender::runs(|| submit_join_braid(&pools.braid, n)),
        vec![
            Contender::runs(|| submit_join_rayon(&pools.rayon, n)),
            Contender::runs(|| submit_join_threadpool(&pools.threadpool, n)),
            python.into(),
            Contender::not_applicable(),
        ],
    );
    layer.push(
        "submit 20,000 tasks, join each result",
        Unit::UsPerOp,
        braid,
        peers,
    );

    // The plain fib runs in the same rounds, so the reference is taken under the same load.
    let [braid, rayon, chili, one_thread, every_call]: [Cell; 5] = settings
        .interleave(
            Unit::Ms,
            1,
            vec![
                Contender::runs(|| fib_join_braid(&pools.braid, 1)),
                Contender::runs(|| fib_join_rayon(&pools.rayon, 1)),
                Contender::runs(|| fib_join_chili(&pools.chili, 1)),
                Contender::runs(|| fib_one_thread(1)),
                Contender::runs(|| fib_one_thread_every_call(1)),
            ],
        )
        .try_into()
        .expect("one cell per contender");
    layer.push(
        "join: fib(32)",
        Unit::Ms,
        braid,
        vec![rayon, Cell::NotApplicable, Cell::NotApplicable, chili],
    );
    let references = [
        (
            &one_thread,
            "computed by a plain recursive function on one thread, no pool",
            "on one thread",
        ),
        (
            &every_call,
            "on one thread making every call of the recursion (the compiler folds one of the plain function's two calls into a loop)",
            "on one thread, every call",
        ),
    ];
    for (cell, how, short) in references {
        match cell {
            Cell::Value(ms) => layer.note(format!("join: fib(32) {how}: {} ms", format_value(*ms))),
            Cell::Missing(why) => layer.note(format!("fib(32) {short}: {why}")),
            Cell::NotApplicable => {}
        }
    }

    let numbers = sort_input();
    let [braid, rayon, one_thread]: [Cell; 3] = settings
        .interleave(
            Unit::Ms,
            1,
            vec![
                Contender::runs(|| quicksort_braid(&pools.braid, &numbers, 1)),
                Contender::runs(|| par_sort_rayon(&pools.rayon, &numbers, 1)),
                Contender::runs(|| sort_one_thread(&numbers, 1)),
            ],
        )
        .try_into()
        .expect("one cell per contender");
    layer.push(
        "quicksort 2,000,000 numbers",
        Unit::Ms,
        braid.clone(),
        vec![
            rayon.clone(),
            Cell::NotApplicable,
            Cell::NotApplicable,
            Cell::NotApplicable,
        ],
    );
    layer.push(
        "quicksort speedup over one thread",
        Unit::Speedup,
        speedup(&one_thread, &braid),
        vec![
            speedup(&one_thread, &rayon),
            Cell::NotApplicable,
            Cell::NotApplicable,
            Cell::NotApplicable,
        ],
    );
    match &one_thread {
        Cell::Value(ms) => layer.note(format!(
            "quicksort: braid's is examples/quicksort.rs (join above leaves of {SORT_CUTOFF} sorted by sort_unstable), rayon's is par_sort_unstable; speedup = sort_unstable on one thread ({} ms) ÷ the time",
            format_value(*ms)
        )),
        Cell::Missing(why) => layer.note(format!("sort_unstable on one thread: {why}")),
        Cell::NotApplicable => {}
    }

    // The base primes are made once, here, so that no timed run makes them.
    base_primes();
    // One thread runs in the same rounds as the pools, so the speedups divide times taken
    // under the same load.
    let [braid, rayon, threadpool, one_thread]: [Cell; 4] = settings
        .interleave(
            Unit::Ms,
            1,
            vec![
                Contender::runs(|| primes_braid(&pools.braid, 1)),
                Contender::runs(|| primes_rayon(&pools.rayon, 1)),
                Contender::runs(|| primes_threadpool(&pools.threadpool, 1)),
                Contender::runs(|| primes_one_thread(1)),
            ],
        )
        .try_into()
        .expect("one cell per contender");
    layer.push(
        "count primes below 2e7, 153 chunks",
        Unit::Ms,
        braid.clone(),
        vec![
            rayon.clone(),
            threadpool.clone(),
            Cell::NotApplicable,
            Cell::NotApplicable,
        ],
    );
    layer.push(
        "primes speedup over one thread",
        Unit::Speedup,
        speedup(&one_thread, &braid),
        vec![
            speedup(&one_thread, &rayon),
            speedup(&one_thread, &threadpool),
            Cell::NotApplicable,
            Cell::NotApplicable,
        ],
    );
    match &one_thread {
        Cell::Value(ms) => layer.note(format!(
            "primes speedup = the same chunks counted on one thread, no pool ({} ms), ÷ the pool's time; the ideal is {WORKERS}×",
            format_value(*ms)
        )),
        Cell::Missing(why) => layer.note(format!("primes on one thread: {why}")),
        Cell::NotApplicable => {}
    }
    layer.note("rayon and threadpool have no join handles: in \"submit ... join\" each task sends its result down a channel of its own");
    layer.note("py ThreadPool is concurrent.futures.ThreadPoolExecutor (python/threadpool_bench.py, best of 5 runs)");
    layer
}

/// The Rust pools that are compared, each with [`WORKERS`] threads.
#[derive(Debug)]
pub struct Pools {
    /// braid's pool.
    pub braid: braid_threadpool::ThreadPool,
    /// A rayon pool of its own, not rayon's global one.
    pub rayon: rayon::ThreadPool,
    /// The `threadpool` crate's pool.
    pub threadpool: threadpool::ThreadPool,
    /// chili's pool, whose thread count includes the thread that calls into it.
    pub chili: chili::ThreadPool,
}

impl Pools {
    /// Builds the pools.
    ///
    /// # Errors
    ///
    /// When braid's or rayon's pool cannot start its threads.
    pub fn new() -> io::Result<Pools> {
        Ok(Pools {
            braid: braid_threadpool::ThreadPool::new(WORKERS).map_err(io::Error::other)?,
            rayon: rayon::ThreadPoolBuilder::new()
                .num_threads(WORKERS)
                .build()
                .map_err(io::Error::other)?,
            threadpool: threadpool::ThreadPool::new(WORKERS),
            chili: chili::ThreadPool::with_config(chili::Config {
                thread_count: std::num::NonZeroUsize::new(WORKERS),
                ..chili::Config::default()
            }),
        })
    }
}

/// Tiny tasks count themselves here; the one that completes the batch opens the gate. The
/// task is a plain `fn`, so no pool has a capture to allocate for.
static DONE: AtomicUsize = AtomicUsize::new(0);
static TARGET: AtomicUsize = AtomicUsize::new(0);
static GATE: Gate = Gate::new();
/// One batch of tiny tasks at a time: the counters above belong to it.
static BATCH: Mutex<()> = Mutex::new(());

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
fn tiny_batch(n: u64, mut submit: impl FnMut()) -> io::Result<Duration> {
    if n == 0 {
        return Ok(Duration::ZERO);
    }
    let _batch = BATCH.lock().unwrap_or_else(|e| e.into_inner());
    DONE.store(0, Ordering::Relaxed);
    TARGET.store(n as usize, Ordering::Relaxed);
    GATE.set(false);
    let start = Instant::now();
    for _ in 0..n {
        submit();
    }
    GATE.wait();
    Ok(start.elapsed())
}

/// Times `n` tiny tasks (each bumps a counter) spawned on braid's pool from outside it with
/// `spawn`, which gives no handle, like rayon's `spawn` and `threadpool`'s `execute`, until
/// the last one has run.
///
/// # Errors
///
/// None in practice; the `Result` matches the other workloads.
pub fn tiny_tasks_braid(pool: &braid_threadpool::ThreadPool, n: u64) -> io::Result<Duration> {
    tiny_batch(n, || pool.spawn(tiny_task).expect("the pool is open"))
}

/// [`tiny_tasks_braid`] through `submit`, each handle dropped at once: what a task that can
/// be joined costs over one that cannot.
///
/// # Errors
///
/// None in practice; the `Result` matches the other workloads.
pub fn tiny_tasks_braid_submit(
    pool: &braid_threadpool::ThreadPool,
    n: u64,
) -> io::Result<Duration> {
    tiny_batch(n, || drop(pool.submit(tiny_task)))
}

/// [`tiny_tasks_braid`] with `rayon::ThreadPool::spawn`.
///
/// # Errors
///
/// None in practice; the `Result` matches the other workloads.
pub fn tiny_tasks_rayon(pool: &rayon::ThreadPool, n: u64) -> io::Result<Duration> {
    tiny_batch(n, || pool.spawn(tiny_task))
}

/// [`tiny_tasks_braid`] with `threadpool::ThreadPool::execute`.
///
/// # Errors
///
/// None in practice; the `Result` matches the other workloads.
pub fn tiny_tasks_threadpool(pool: &threadpool::ThreadPool, n: u64) -> io::Result<Duration> {
    tiny_batch(n, || pool.execute(tiny_task))
}

/// Times submitting `n` tasks to braid's pool, then joining each one's handle in order.
///
/// # Errors
///
/// A task that failed, or results that do not add up.
pub fn submit_join_braid(pool: &braid_threadpool::ThreadPool, n: u64) -> io::Result<Duration> {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| pool.submit(move || i)).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.join().map_err(io::Error::other)?;
    }
    let elapsed = start.elapsed();
    check_sum(sum, n)?;
    Ok(elapsed)
}

/// [`submit_join_braid`] on rayon, which has no handles: each task sends its result down a
/// one-slot channel of its own.
///
/// # Errors
///
/// A lost task, or results that do not add up.
pub fn submit_join_rayon(pool: &rayon::ThreadPool, n: u64) -> io::Result<Duration> {
    submit_join_channel(n, |task| pool.spawn(task))
}

/// [`submit_join_braid`] on the `threadpool` crate, which has no handles: each task sends
/// its result down a one-slot channel of its own.
///
/// # Errors
///
/// A lost task, or results that do not add up.
pub fn submit_join_threadpool(pool: &threadpool::ThreadPool, n: u64) -> io::Result<Duration> {
    submit_join_channel(n, |task| pool.execute(task))
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
    check_sum(sum, n)?;
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

/// Times `runs` computations of fib(32) by recursive `join` on braid's pool, with no
/// sequential cutoff.
///
/// # Errors
///
/// A wrong result.
pub fn fib_join_braid(pool: &braid_threadpool::ThreadPool, runs: u64) -> io::Result<Duration> {
    time_fibs(runs, || fib_braid(pool, black_box(FIB_N)))
}

/// [`fib_join_braid`] with `rayon::join` inside the rayon pool.
///
/// # Errors
///
/// A wrong result.
pub fn fib_join_rayon(pool: &rayon::ThreadPool, runs: u64) -> io::Result<Duration> {
    time_fibs(runs, || pool.install(|| fib_rayon(black_box(FIB_N))))
}

/// [`fib_join_braid`] with chili's `join` in a scope of its pool.
///
/// # Errors
///
/// A wrong result.
pub fn fib_join_chili(pool: &chili::ThreadPool, runs: u64) -> io::Result<Duration> {
    time_fibs(runs, || fib_chili(&mut pool.scope(), black_box(FIB_N)))
}

/// Times `runs` computations of fib(32) by a plain recursive function on this thread.
///
/// # Errors
///
/// A wrong result.
pub fn fib_one_thread(runs: u64) -> io::Result<Duration> {
    time_fibs(runs, || fib_plain(black_box(FIB_N)))
}

/// Times `runs` computations of fib(32) on this thread that make every call the recursion
/// makes: the function calls itself through a pointer the compiler cannot see through, so it
/// cannot fold one of the two calls into a loop, as it does with [`fib_one_thread`]'s.
///
/// # Errors
///
/// A wrong result.
pub fn fib_one_thread_every_call(runs: u64) -> io::Result<Duration> {
    time_fibs(runs, || fib_every_call(black_box(FIB_N)))
}

/// Times `runs` calls of `compute`, each of which must return fib(32).
fn time_fibs(runs: u64, mut compute: impl FnMut() -> u64) -> io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        check(compute() == FIB_32, "fib(32) came out wrong")?;
    }
    Ok(start.elapsed())
}

fn fib_every_call(n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let fib: fn(u32) -> u64 = black_box(fib_every_call);
    fib(n - 1) + fib(n - 2)
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

fn fib_chili(scope: &mut chili::Scope<'_>, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = scope.join(|s| fib_chili(s, n - 1), |s| fib_chili(s, n - 2));
    a + b
}

fn fib_plain(n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    fib_plain(n - 1) + fib_plain(n - 2)
}

const SORT_LENGTH: usize = 2_000_000;
/// Slices this short are sorted by `sort_unstable` instead of split further.
const SORT_CUTOFF: usize = 32_768;

/// The numbers every sort sorts: the input of examples/quicksort.rs.
fn sort_input() -> Vec<u64> {
    quicksort::random_numbers(SORT_LENGTH)
}

/// Times `runs` sorts of a copy of `numbers` by `sort`, copying outside the timed part.
fn time_sorts(
    numbers: &[u64],
    runs: u64,
    mut sort: impl FnMut(&mut [u64]),
) -> io::Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        let mut items = numbers.to_vec();
        let start = Instant::now();
        sort(black_box(&mut items));
        total += start.elapsed();
        check(
            items.windows(2).all(|w| w[0] <= w[1]),
            "the numbers came out unsorted",
        )?;
    }
    Ok(total)
}

/// Times `runs` sorts of `numbers` by the quicksort of examples/quicksort.rs on braid's pool.
///
/// # Errors
///
/// An unsorted result.
pub fn quicksort_braid(
    pool: &braid_threadpool::ThreadPool,
    numbers: &[u64],
    runs: u64,
) -> io::Result<Duration> {
    time_sorts(numbers, runs, |items| {
        quicksort::quicksort(pool, items, SORT_CUTOFF)
    })
}

/// Times `runs` sorts of `numbers` by rayon's `par_sort_unstable` in rayon's pool.
///
/// # Errors
///
/// An unsorted result.
pub fn par_sort_rayon(
    pool: &rayon::ThreadPool,
    numbers: &[u64],
    runs: u64,
) -> io::Result<Duration> {
    use rayon::slice::ParallelSliceMut;
    time_sorts(numbers, runs, |items| {
        pool.install(|| items.par_sort_unstable())
    })
}

/// Times `runs` sorts of `numbers` by `sort_unstable` on this thread.
///
/// # Errors
///
/// An unsorted result.
pub fn sort_one_thread(numbers: &[u64], runs: u64) -> io::Result<Duration> {
    time_sorts(numbers, runs, <[u64]>::sort_unstable)
}

/// examples/quicksort.rs's sort, the same file: `quicksort::quicksort`.
#[path = "../../examples/src/quicksort.rs"]
mod quicksort;

/// The primes up to √`PRIME_LIMIT` that every chunk crosses off with, computed once so no
/// run times it.
fn base_primes() -> &'static [u64] {
    static BASE: OnceLock<Vec<u64>> = OnceLock::new();
    BASE.get_or_init(|| sieve((PRIME_LIMIT as f64).sqrt() as u64 + 1))
}

/// Primes up to `limit` by a plain sieve.
fn sieve(limit: u64) -> Vec<u64> {
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

/// Runs `count` `runs` times, checking each total, and times it all.
fn time_primes(runs: u64, mut count: impl FnMut(&'static [u64]) -> u64) -> io::Result<Duration> {
    let base = base_primes();
    let start = Instant::now();
    for _ in 0..runs {
        check(
            count(base) == PRIMES_BELOW_LIMIT,
            "the prime count came out wrong",
        )?;
    }
    Ok(start.elapsed())
}

/// Times `runs` counts of the primes below 2·10^7 on this thread, no pool: the 153 chunks
/// one after another, the baseline for the speedups.
///
/// # Errors
///
/// A wrong count.
pub fn primes_one_thread(runs: u64) -> io::Result<Duration> {
    time_primes(runs, |base| {
        (0..prime_chunks())
            .map(|chunk| count_chunk(base, chunk))
            .sum()
    })
}

/// Times `runs` counts of the primes below 2·10^7 on braid's pool, one scoped task per
/// chunk.
///
/// # Errors
///
/// A wrong count.
pub fn primes_braid(pool: &braid_threadpool::ThreadPool, runs: u64) -> io::Result<Duration> {
    time_primes(runs, |base| {
        let total = AtomicU64::new(0);
        pool.scope(|s| {
            for chunk in 0..prime_chunks() {
                let total = &total;
                s.spawn(move |_| {
                    total.fetch_add(count_chunk(base, chunk), Ordering::Relaxed);
                });
            }
        });
        total.into_inner()
    })
}

/// [`primes_braid`] with a rayon parallel iterator over the chunks.
///
/// # Errors
///
/// A wrong count.
pub fn primes_rayon(pool: &rayon::ThreadPool, runs: u64) -> io::Result<Duration> {
    use rayon::prelude::*;
    time_primes(runs, |base| {
        pool.install(|| {
            (0..prime_chunks())
                .into_par_iter()
                .map(|chunk| count_chunk(base, chunk))
                .sum()
        })
    })
}

/// [`primes_braid`] on the `threadpool` crate: one task per chunk, each sending its count
/// down a shared channel.
///
/// # Errors
///
/// A wrong count.
pub fn primes_threadpool(pool: &threadpool::ThreadPool, runs: u64) -> io::Result<Duration> {
    time_primes(runs, |base| {
        let (tx, rx) = mpsc::channel();
        for chunk in 0..prime_chunks() {
            let tx = tx.clone();
            pool.execute(move || {
                let _ = tx.send(count_chunk(base, chunk));
            });
        }
        drop(tx);
        rx.iter().sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_limit() {
        assert_eq!(prime_chunks(), 153);
        let base = sieve(4473);
        assert_eq!(count_chunk(&base, 0), 12_251); // primes below 131,072
    }

    #[test]
    fn every_pool_runs_every_small_workload() {
        let pools = Pools::new().unwrap();
        tiny_tasks_braid(&pools.braid, 1000).unwrap();
        tiny_tasks_braid_submit(&pools.braid, 1000).unwrap();
        tiny_tasks_rayon(&pools.rayon, 1000).unwrap();
        tiny_tasks_threadpool(&pools.threadpool, 1000).unwrap();
        assert_eq!(tiny_tasks_braid(&pools.braid, 0).unwrap(), Duration::ZERO);
        submit_join_braid(&pools.braid, 100).unwrap();
        submit_join_rayon(&pools.rayon, 100).unwrap();
        submit_join_threadpool(&pools.threadpool, 100).unwrap();
        assert_eq!(fib_braid(&pools.braid, 20), 6765);
        assert_eq!(pools.rayon.install(|| fib_rayon(20)), 6765);
        assert_eq!(fib_chili(&mut pools.chili.scope(), 20), 6765);
        assert_eq!(fib_plain(20), 6765);
    }

    #[test]
    fn every_sort_sorts_the_same_numbers() {
        let pools = Pools::new().unwrap();
        let numbers = sort_input();
        let mut expected = numbers.clone();
        expected.sort_unstable();
        let mut braid = numbers.clone();
        quicksort::quicksort(&pools.braid, &mut braid, SORT_CUTOFF);
        assert_eq!(braid, expected);
        quicksort_braid(&pools.braid, &numbers, 1).unwrap();
        par_sort_rayon(&pools.rayon, &numbers, 1).unwrap();
        sort_one_thread(&numbers, 1).unwrap();
        for tricky in [
            vec![5_u64; 100_000],
            (0..100_000).collect(),
            (0..100_000).rev().collect(),
        ] {
            let mut sorted = tricky.clone();
            quicksort::quicksort(&pools.braid, &mut sorted, SORT_CUTOFF);
            let mut expected = tricky;
            expected.sort_unstable();
            assert_eq!(sorted, expected);
        }
    }
}
