//! The parallel quicksort of `examples/quicksort.rs`, in a file of its own so that the
//! benches time the very same code (`benches/src/threadpool.rs` includes this file).
//!
//! It names the thread pool by its own crate, `braid_threadpool`, which the facade's
//! `braid::threadpool` re-exports: the same type under a name both crates can use.

use braid_threadpool::ThreadPool;

/// Sorts `items` on `pool`: splits them around a pivot and sorts the two sides with `join`,
/// leaving slices of `cutoff` or fewer numbers to the standard library's `sort_unstable`.
pub fn quicksort(pool: &ThreadPool, items: &mut [u64], cutoff: usize) {
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

/// Pseudo-random numbers from a fixed seed (xorshift64): the same input every run, for the
/// example and for the benches that time it.
pub fn random_numbers(length: usize) -> Vec<u64> {
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
