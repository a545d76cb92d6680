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
//! branches on the data.

use std::time::Instant;

use braid::threadpool::ThreadPool;
use examples::cli::Args;

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

fn quicksort(pool: &ThreadPool, items: &mut [u64], cutoff: usize) {
    if items.len() <= cutoff {
        items.sort_unstable();
        return;
    }
    let mid = partition(items);
    if mid == 0 {
        // Nothing is below the pivot: gather its equals after it, a run that is already
        // sorted, so many equal numbers cannot make the recursion lopsided.
        let pivot = items[0];
        let rest = &mut items[1..];
        let equal = split_by(rest, |item| item <= pivot);
        return quicksort(pool, &mut rest[equal..], cutoff);
    }
    // Both halves borrow from `items`: `join` returns only when both are done.
    let (left, right) = items.split_at_mut(mid);
    pool.join(
        || quicksort(pool, left, cutoff),
        || quicksort(pool, &mut right[1..], cutoff),
    );
}

/// Moves everything smaller than the pivot before it; returns where the pivot ends up.
fn partition(items: &mut [u64]) -> usize {
    let last = items.len() - 1;
    // The median of three medians of three, spread over the slice: a pivot close to the
    // middle keeps the halves even, and sorted or reversed input is no worse than random.
    let step = items.len() / 8;
    let medians = [
        median_of_three(items, 0, step, 2 * step),
        median_of_three(items, 3 * step, 4 * step, 5 * step),
        median_of_three(items, 6 * step, 7 * step, last),
    ];
    let pivot_at = median_of_three(items, medians[0], medians[1], medians[2]);
    items.swap(pivot_at, last);
    let pivot = items[last];
    let store = split_by(&mut items[..last], |item| item < pivot);
    items.swap(store, last);
    store
}

/// The index, of `a`, `b` and `c`, that holds the median of their three numbers.
fn median_of_three(items: &[u64], a: usize, b: usize, c: usize) -> usize {
    let (x, y, z) = (items[a], items[b], items[c]);
    if (x <= y) == (y <= z) {
        b
    } else if (y <= x) == (x <= z) {
        a
    } else {
        c
    }
}

/// Moves the numbers for which `goes_left` holds to the front and returns how many there are.
///
/// Every step swaps, whether the number moves or not, and only the count depends on the
/// comparison: on random data a branch on it would be mispredicted half the time, which costs
/// more than the swap.
fn split_by(items: &mut [u64], goes_left: impl Fn(u64) -> bool) -> usize {
    let mut store = 0;
    for i in 0..items.len() {
        let item = items[i];
        items.swap(i, store);
        store += usize::from(goes_left(item));
    }
    store
}

/// Pseudo-random numbers from a fixed seed (xorshift64): the same input every run.
fn random_numbers(length: usize) -> Vec<u64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect()
}
