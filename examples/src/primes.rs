//! CPU-bound work for the examples: counting primes by trial division, split into ranges.
//!
//! The functions take and return plain serialisable values, so the same code runs on one
//! thread, on a thread pool, and in a process pool's workers.

/// How many primes lie in `start..end`, by trial division: deliberately plain CPU work.
///
/// # Examples
///
/// ```
/// assert_eq!(examples::primes::count_primes((0, 100)), 25);
/// assert_eq!(examples::primes::count_primes((100, 200)), 21);
/// ```
pub fn count_primes((start, end): (u64, u64)) -> u64 {
    (start..end).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 {
        return false;
    }
    let mut divisor = 3;
    while divisor * divisor <= n {
        if n % divisor == 0 {
            return false;
        }
        divisor += 2;
    }
    true
}

/// Splits `0..below` into `chunks` ranges (fewer if `below` is small) that cover it exactly.
///
/// Later numbers cost more to test, so more chunks than workers keep every worker busy to
/// the end: a worker that finishes early takes the next chunk.
///
/// # Examples
///
/// ```
/// use examples::primes::{count_primes, ranges};
///
/// let parts = ranges(1000, 7);
/// assert_eq!(parts.first().unwrap().0, 0);
/// assert_eq!(parts.last().unwrap().1, 1000);
/// assert_eq!(parts.iter().map(|&r| count_primes(r)).sum::<u64>(), 168);
/// ```
pub fn ranges(below: u64, chunks: usize) -> Vec<(u64, u64)> {
    let chunks = (chunks.max(1) as u64).min(below.max(1));
    (0..chunks)
        .map(|i| (below * i / chunks, below * (i + 1) / chunks))
        .collect()
}
