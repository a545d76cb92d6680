//! Fork-join parallel quicksort with `ThreadPool::join`: split the slice around a pivot,
//! sort the halves at the same time, and stop splitting below a cutoff.
//!
//! ```text
//! cargo run --release --example quicksort                    # 2,000,000 numbers
//! cargo run --release --example quicksort -- 10000000 65536  # LENGTH CUTOFF
//! ```
//!
//! `join` sorts one half itself and keeps the other where an idle worker can take it, so the
//! recursion spreads over all cores without a task per element; the halves nobody takes cost
//! no more than a function call. Below the cutoff the standard library's `sort_unstable`
//! takes over: on small slices it beats another round of partitioning.
//!
//! Partitioning is the part of quicksort that does not run in parallel at the top of the
//! recursion, so it is written to be fast: one pass that swaps at every step and never
//! branches on the data. The sort itself is in `src/quicksort.rs`, which the benches time too.

use std::time::Instant;

use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::quicksort::{quicksort, random_numbers};

fn main() {
    let mut args =
        Args::from_env("quicksort [LENGTH] [CUTOFF]   (defaults: 2000000 numbers, cutoff 32768)");
    let length: usize = args.next_or("LENGTH", 2_000_000);
    let cutoff: usize = args.next_or("CUTOFF", 32_768);
    args.finish();

    let pool = ThreadPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .unwrap_or_else(|error| {
            eprintln!("quicksort: {error}");
            std::process::exit(1)
        });
    let numbers = random_numbers(length);

    let mut parallel = numbers.clone();
    let start = Instant::now();
    quicksort(&pool, &mut parallel, cutoff.max(1));
    let parallel_time = start.elapsed();

    let mut sequential = numbers;
    let start = Instant::now();
    sequential.sort_unstable();
    let sequential_time = start.elapsed();

    // Sorted, and the same numbers as the standard library's sort: nothing lost or made up.
    assert!(parallel.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    assert_eq!(parallel, sequential, "not a permutation of the input");
    println!(
        "sorted {length} numbers on {} threads in {:.1} ms (sort_unstable on one thread: \
         {:.1} ms); the result is sorted",
        pool.workers(),
        parallel_time.as_secs_f64() * 1000.0,
        sequential_time.as_secs_f64() * 1000.0
    );
}
