//! Rough timings of braid-procpool, for a quick look before the benchmarks.
//!
//! Run it with `cargo run --release -p braid-procpool --example procpool_timing`.

use std::time::{Duration, Instant};

use braid_procpool::{ProcessPool, StartMethod};

fn identity(x: u64) -> u64 {
    x
}

/// CPU-bound work: how many primes lie in `[start, end)`.
fn count_primes((start, end): (u64, u64)) -> u64 {
    (start..end)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

fn per_item(total: Duration, items: u32) -> Duration {
    total / items
}

fn main() -> std::io::Result<()> {
    braid_procpool::init();

    for method in [
        StartMethod::Spawn,
        StartMethod::Fork,
        StartMethod::ForkServer,
    ] {
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            let pool = ProcessPool::builder()
                .workers(2)
                .start_method(method)
                .build()?;
            pool.submit(identity, 1).join().expect("task");
        }
        println!(
            "{method:?}: start 2 workers + 1 task + drop: {:?}",
            started.elapsed() / runs
        );
    }

    let pool = ProcessPool::new(2)?;
    let n = 10_000u32;
    let started = Instant::now();
    for i in 0..u64::from(n) {
        pool.submit(identity, i).join().expect("task");
    }
    println!(
        "submit + join, one at a time: {:?} per task",
        per_item(started.elapsed(), n)
    );

    let started = Instant::now();
    let handles: Vec<_> = (0..u64::from(n))
        .map(|i| pool.submit(identity, i))
        .collect();
    for h in handles {
        h.join().expect("task");
    }
    println!(
        "submit all, then join all: {:?} per task",
        per_item(started.elapsed(), n)
    );

    let started = Instant::now();
    let done = pool.map(identity, 0..u64::from(n), 1).count();
    assert_eq!(done, n as usize);
    println!(
        "map, chunksize 1: {:?} per item",
        per_item(started.elapsed(), n)
    );

    let n = 100_000u32;
    for chunksize in [100, 1000, 10_000] {
        let started = Instant::now();
        let done = pool.map(identity, 0..u64::from(n), chunksize).count();
        assert_eq!(done, n as usize);
        println!(
            "map of {n}, chunksize {chunksize}: {:?} per item",
            per_item(started.elapsed(), n)
        );
    }

    let ranges: Vec<(u64, u64)> = (0..16u64)
        .map(|i| (i * 200_000, (i + 1) * 200_000))
        .collect();
    let started = Instant::now();
    let serial: u64 = ranges.iter().copied().map(count_primes).sum();
    let serial_time = started.elapsed();
    let started = Instant::now();
    let parallel: u64 = pool
        .map(count_primes, ranges, 1)
        .map(|r| r.expect("task"))
        .sum();
    let parallel_time = started.elapsed();
    assert_eq!(serial, parallel);
    println!(
        "primes below 3.2 million: {serial_time:?} here, {parallel_time:?} on 2 workers ({:.2}x)",
        serial_time.as_secs_f64() / parallel_time.as_secs_f64()
    );
    Ok(())
}
