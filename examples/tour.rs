//! A tour of braid: the same two workloads run under each concurrency model, timed.
//!
//! * I/O-bound: fetch pages from a web server that takes a few milliseconds per answer —
//!   one by one, on a thread pool of blocking clients, and on the event loop.
//! * CPU-bound: count the primes below a number — on one thread, on the thread pool, and on
//!   the process pool.
//!
//! The server runs inside this program, so there is nothing to set up:
//!
//! ```text
//! cargo run --release --example tour
//! cargo run --release --example tour -- --quick          # a smaller run
//! cargo run --release --example tour -- 500 20000000     # PAGES PRIMES_BELOW
//! ```
//!
//! It ends with a table of wall times and a conclusion drawn from the numbers measured on
//! this machine.

use std::io::Write;
use std::time::{Duration, Instant};

use braid::executor::{gather, run};
use braid::procpool::ProcessPool;
use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::http::{self, Url};
use examples::page_server::PageServer;
use examples::primes::{count_primes, ranges};

/// How long the server takes to answer each page: the waiting that makes I/O concurrency pay.
const LATENCY: Duration = Duration::from_millis(5);

/// Threads of blocking clients, like `ThreadPoolExecutor(max_workers=16)` in Python.
const FETCH_THREADS: usize = 16;

/// Pieces the prime count is split into: more than cores, so nobody idles at the end.
const PRIME_CHUNKS: usize = 64;

type BoxError = Box<dyn std::error::Error>;

/// Below this, a CPU job is too small for any pool to pay for itself.
const SMALL_JOB: Duration = Duration::from_millis(200);

/// One line of the results table.
struct Row {
    workload: &'static str,
    model: String,
    time: Duration,
}

fn main() -> Result<(), BoxError> {
    // First line of main: in a process-pool worker, this serves tasks and never returns.
    braid::procpool::init();

    let mut args = Args::from_env("tour [--quick] [PAGES] [PRIMES_BELOW]");
    let quick = args.flag("--quick");
    let pages: usize = args.next_or("PAGES", if quick { 20 } else { 200 });
    let below: u64 = args.next_or("PRIMES_BELOW", if quick { 300_000 } else { 14_000_000 });
    args.finish();
    if pages == 0 || below == 0 {
        return Err("PAGES and PRIMES_BELOW must be at least 1".into());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("braid tour on {cores} cores\n");
    let server = PageServer::start(LATENCY)?;
    let urls: Vec<Url> = (0..pages)
        .map(|i| server.url(&format!("/page/{i}")))
        .collect();

    println!(
        "I/O-bound: fetch {pages} pages, each answered after {} ms",
        LATENCY.as_millis()
    );
    let mut rows = Vec::new();
    let (time, sequential) = step(&format!("fetching {pages} pages one by one"), || {
        Ok(urls
            .iter()
            .map(http::get_blocking)
            .collect::<Result<Vec<_>, _>>()?)
    })?;
    rows.push(row("I/O", "one by one, 1 thread", time));

    let (time, pooled) = step(
        &format!("fetching {pages} pages on a pool of {FETCH_THREADS} threads"),
        || {
            let pool = ThreadPool::new(FETCH_THREADS)?;
            // Each worker blocks in its own client while the others wait on theirs.
            let results = pool.map(|url: Url| http::get_blocking(&url), urls.clone());
            results
                .map(|r| Ok(r??))
                .collect::<Result<Vec<_>, BoxError>>()
        },
    )?;
    rows.push(row(
        "I/O",
        &format!("thread pool, {FETCH_THREADS} threads"),
        time,
    ));

    let (time, on_loop) = step(&format!("fetching {pages} pages on the event loop"), || {
        // One thread, one task per page: each pauses at its socket while the others go on.
        let pages = run(async { gather(urls.iter().map(http::get)).await });
        Ok(pages.into_iter().collect::<Result<Vec<_>, _>>()?)
    })?;
    rows.push(row(
        "I/O",
        &format!("event loop, 1 thread, {pages} tasks"),
        time,
    ));
    drop(server);
    for (model, fetched) in [("thread pool", &pooled), ("event loop", &on_loop)] {
        if sequential != *fetched {
            return Err(format!("the {model} fetched different pages than one by one").into());
        }
    }

    println!("\nCPU-bound: count the primes below {below}");
    let (time, alone) = step("counting on one thread", || Ok(count_primes((0, below))))?;
    rows.push(row("CPU", "one thread", time));

    let (time, threads) = step(&format!("counting on a pool of {cores} threads"), || {
        let pool = ThreadPool::new(cores)?;
        let counts = pool.map(count_primes, ranges(below, PRIME_CHUNKS));
        counts.map(|r| Ok(r?)).sum::<Result<u64, BoxError>>()
    })?;
    rows.push(row("CPU", &format!("thread pool, {cores} threads"), time));

    let (time, processes) = step(&format!("counting on a pool of {cores} processes"), || {
        // Start-up is part of the job: the workers are new processes running this program.
        let pool = ProcessPool::new(cores)?;
        let counts = pool.map(count_primes, ranges(below, PRIME_CHUNKS), 2);
        counts.map(|r| Ok(r?)).sum::<Result<u64, BoxError>>()
    })?;
    rows.push(row(
        "CPU",
        &format!("process pool, {cores} processes"),
        time,
    ));
    if threads != alone || processes != alone {
        return Err(format!(
            "the counts disagree: {alone} on one thread, {threads} on threads, \
             {processes} in processes"
        )
        .into());
    }
    println!("  ({alone} primes below {below})");

    print_table(&rows);
    println!();
    for paragraph in conclusion(&rows, cores, pages) {
        println!("{}", wrap(&paragraph, 88));
    }
    Ok(())
}

/// Runs one step, printing what it does while it runs and how long it took after.
fn step<T>(what: &str, f: impl FnOnce() -> Result<T, BoxError>) -> Result<(Duration, T), BoxError> {
    print!("  {what}... ");
    let _ = std::io::stdout().flush(); // show the line before the work starts
    let start = Instant::now();
    let value = f()?;
    let time = start.elapsed();
    println!("{}", seconds(time));
    Ok((time, value))
}

fn row(workload: &'static str, model: &str, time: Duration) -> Row {
    Row {
        workload,
        model: model.to_string(),
        time,
    }
}

fn seconds(time: Duration) -> String {
    format!("{:.3} s", time.as_secs_f64())
}

/// The first row of a workload is its baseline.
fn speedup(rows: &[Row], row: &Row) -> f64 {
    let baseline = rows
        .iter()
        .find(|r| r.workload == row.workload)
        .unwrap_or(row);
    baseline.time.as_secs_f64() / row.time.as_secs_f64().max(1e-9)
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.model.len()).max().unwrap_or(0);
    println!(
        "\n{:<8}  {:<width$}  {:>10}  {:>8}",
        "workload", "model", "wall time", "speedup"
    );
    println!("{}", "-".repeat(8 + 2 + width + 2 + 10 + 2 + 8));
    for row in rows {
        println!(
            "{:<8}  {:<width$}  {:>10}  {:>7.1}x",
            row.workload,
            row.model,
            seconds(row.time),
            speedup(rows, row)
        );
    }
}

/// What the numbers say, in sentences, from the rows as measured.
fn conclusion(rows: &[Row], cores: usize, pages: usize) -> Vec<String> {
    let io: Vec<&Row> = rows.iter().filter(|r| r.workload == "I/O").collect();
    let cpu: Vec<&Row> = rows.iter().filter(|r| r.workload == "CPU").collect();
    let [one_by_one, io_pool, event_loop] = io[..] else {
        return Vec::new();
    };
    let [one_thread, cpu_threads, cpu_processes] = cpu[..] else {
        return Vec::new();
    };
    let ratio = |slow: &Row, fast: &Row| slow.time.as_secs_f64() / fast.time.as_secs_f64();
    let mut lines = vec!["Conclusion:".to_string()];

    let io_winner = fastest(&io);
    let runner_up = if std::ptr::eq(io_winner, event_loop) {
        io_pool
    } else {
        event_loop
    };
    lines.push(format!(
        "- I/O-bound: {} won, {:.1}x faster than one by one and {:.1}x faster than {}.",
        subject(io_winner),
        ratio(one_by_one, io_winner),
        ratio(runner_up, io_winner),
        subject(runner_up)
    ));
    if std::ptr::eq(io_winner, event_loop) {
        lines.push(format!(
            "  Fetching a page is almost all waiting. One thread with {pages} paused tasks waits \
             for all of them at once, while {FETCH_THREADS} threads wait for at most \
             {FETCH_THREADS} at a time, and one by one waits for each in turn."
        ));
    } else {
        let rounds = pages.div_ceil(FETCH_THREADS);
        lines.push(format!(
            "  {FETCH_THREADS} threads need at least {rounds} rounds of {} ms for {pages} \
             pages, the event loop only one; yet it took {:.0} ms. Something held it up this \
             time: other programs on the CPU, or connections the system had to retry.",
            LATENCY.as_millis(),
            event_loop.time.as_secs_f64() * 1000.0
        ));
    }

    let cpu_winner = fastest(&cpu);
    if std::ptr::eq(cpu_winner, one_thread) {
        lines.push(format!(
            "- CPU-bound: one thread was fastest; the thread pool reached {:.1}x of its speed \
             and the process pool {:.1}x.",
            ratio(one_thread, cpu_threads),
            ratio(one_thread, cpu_processes)
        ));
    } else {
        lines.push(format!(
            "- CPU-bound: {} won, {:.1}x faster than one thread on {cores} cores (at best {cores}x).",
            subject(cpu_winner),
            ratio(one_thread, cpu_winner)
        ));
    }
    if std::ptr::eq(cpu_winner, one_thread) && cores == 1 {
        lines.push(
            "  With one core nothing can run in parallel, and the pools only add their own \
             costs."
                .to_string(),
        );
    } else if std::ptr::eq(cpu_winner, one_thread) && one_thread.time < SMALL_JOB {
        lines.push(format!(
            "  The job took one thread only {:.0} ms: too little for splitting it up and \
             starting workers to pay off. Give the tour a bigger PRIMES_BELOW.",
            one_thread.time.as_secs_f64() * 1000.0
        ));
    } else if std::ptr::eq(cpu_winner, one_thread) {
        lines.push(format!(
            "  The pools gained nothing from {cores} cores, which means other programs were \
             keeping them busy; run the tour again on an idle machine."
        ));
    } else {
        lines.push(format!(
            "  Counting primes never waits, so only more cores help: both pools use all \
             {cores} cores. Unlike Python's, braid's threads run Rust code in parallel, with no \
             global lock to take turns on."
        ));
        let best = ratio(one_thread, cpu_winner);
        if best < cores as f64 * 0.6 {
            lines.push(format!(
                "  {best:.1}x is far from {cores}x: other programs were using the cores while \
                 this ran; on an idle machine both pools come close to {cores}x."
            ));
        }
        let threads = cpu_threads.time.as_secs_f64();
        let gap = cpu_processes.time.as_secs_f64() - threads;
        // "within 0%" reads oddly; anything under one percent is "within 1%".
        let percent = (gap.abs() / threads * 100.0).round().max(1.0);
        if gap.abs() < threads * 0.05 {
            lines.push(format!(
                "  The two pools finished within {percent}% of each other: once its workers \
                 are running, a process pool does the same work on the same cores — and \
                 survives a task that crashes or hangs."
            ));
        } else if gap > 0.0 {
            lines.push(format!(
                "  The process pool took {:.0} ms ({percent}%) longer than the thread pool: \
                 that is what starting {cores} worker processes and sending arguments and \
                 results through pipes cost here. Processes earn it back when a task may \
                 crash or hang: it takes down its worker, not the program.",
                gap * 1000.0
            ));
        } else {
            lines.push(format!(
                "  The process pool was {:.0} ms ({percent}%) faster than the thread pool. \
                 Both did the same work on the same cores, and the processes had to start \
                 first, so a gap this way is run-to-run variation — other programs sharing \
                 the cores — not an advantage of the model.",
                -gap * 1000.0
            ));
        }
    }
    lines
}

/// Breaks `text` into lines of at most `width` columns, indenting the continuations by two.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut column = 0;
    // Keep the paragraph's own leading spaces; split the rest into words.
    let body = text.trim_start();
    out.push_str(&text[..text.len() - body.len()]);
    column += text.len() - body.len();
    for word in body.split(' ') {
        if column > 2 && column + 1 + word.len() > width {
            out.push_str("\n  ");
            column = 2;
        } else if column > 0 && !out.ends_with(' ') {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += word.chars().count();
    }
    out
}

fn fastest<'a>(rows: &[&'a Row]) -> &'a Row {
    rows.iter()
        .min_by_key(|r| r.time)
        .copied()
        .expect("every workload has rows")
}

/// The model as the subject of a sentence: "the thread pool" for "thread pool, 16 threads".
fn subject(row: &Row) -> String {
    let name = row.model.split(',').next().unwrap_or(&row.model);
    if name.starts_with("one ") {
        name.to_string()
    } else {
        format!("the {name}")
    }
}
