//! The same CPU-bound job — counting primes — on braid's thread pool and on its process pool.
//!
//! ```text
//! cargo run --release --example primes                      # primes below 5,000,000
//! cargo run --release --example primes -- 20000000 4 64     # BELOW WORKERS CHUNKS
//! ```
//!
//! Both pools split the range into chunks and use every core. The thread pool shares memory
//! and starts in microseconds; the process pool starts worker processes and sends each
//! chunk and its answer through a pipe, but a chunk that crashes takes down only its worker.

use std::time::Instant;

use braid::procpool::ProcessPool;
use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::primes::{count_primes, ranges};

fn main() {
    // First line of main: in a process-pool worker, this serves tasks and never returns.
    braid::procpool::init();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args =
        Args::from_env("primes [BELOW] [WORKERS] [CHUNKS]   (defaults: 5000000, all cores, 64)");
    let below: u64 = args.next_or("BELOW", 5_000_000);
    let workers: usize = args.next_or("WORKERS", cores);
    let chunks: usize = args.next_or("CHUNKS", 64);
    args.finish();
    if workers == 0 || chunks == 0 {
        eprintln!("error: WORKERS and CHUNKS must be at least 1");
        std::process::exit(2);
    }
    let pieces = ranges(below, chunks);

    let start = Instant::now();
    let on_threads: u64 = match ThreadPool::new(workers) {
        Ok(pool) => pool
            .map(count_primes, pieces.clone())
            .map(|count| count.expect("count_primes does not panic"))
            .sum(),
        Err(error) => fail(&error),
    };
    println!(
        "thread pool,  {workers} threads:   {on_threads} primes below {below} in {:.3} s",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let on_processes: u64 = match ProcessPool::new(workers) {
        // Two chunks per message: fewer round trips through the pipes.
        Ok(pool) => pool
            .map(count_primes, pieces, 2)
            .map(|count| count.unwrap_or_else(|error| fail(&error)))
            .sum(),
        Err(error) => fail(&error),
    };
    println!(
        "process pool, {workers} processes: {on_processes} primes below {below} in {:.3} s",
        start.elapsed().as_secs_f64()
    );

    if on_threads != on_processes {
        eprintln!("error: the pools disagree");
        std::process::exit(1);
    }
    println!("the counts agree");
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("primes: {error}");
    std::process::exit(1)
}
