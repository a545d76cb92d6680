//! A tour of braid-procpool: tasks, maps, and the failures a process pool survives.
//!
//! Run it with `cargo run -p braid-procpool --example procpool_tour`.

use std::time::Duration;

use braid_procpool::{ProcessPool, StartMethod, TaskError};

/// CPU-bound work: how many primes lie in `[start, end)`.
fn count_primes((start, end): (u64, u64)) -> u64 {
    (start..end)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

fn crash(code: i32) {
    std::process::exit(code)
}

fn hang(_: ()) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn main() -> std::io::Result<()> {
    // In a worker process this serves tasks and never returns.
    braid_procpool::init();

    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(StartMethod::Spawn)
        .build()?;

    // One task.
    let handle = pool.submit(count_primes, (0, 10_000));
    println!(
        "primes below 10,000: {}",
        handle.join().expect("the task runs")
    );

    // Many tasks, in chunks, results in input order.
    let ranges = (0..8u64).map(|i| (i * 25_000, (i + 1) * 25_000));
    let counts: Vec<u64> = pool
        .map(count_primes, ranges, 2)
        .map(|r| r.expect("the task runs"))
        .collect();
    println!(
        "primes per 25,000: {counts:?} (total {})",
        counts.iter().sum::<u64>()
    );

    // A worker that dies fails its own task, with the reason, and is replaced.
    match pool.submit(crash, 3).join() {
        Err(e @ TaskError::WorkerDied { .. }) => println!("as expected: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // A task past its timeout has its worker killed and replaced.
    match pool
        .submit_with_timeout(hang, (), Duration::from_millis(200))
        .join()
    {
        Err(TaskError::TimedOut) => println!("as expected: {}", TaskError::TimedOut),
        other => println!("unexpected: {other:?}"),
    }

    // And the pool keeps serving.
    assert_eq!(pool.submit(count_primes, (0, 100)).join(), Ok(25));
    println!("{:?}", pool.metrics());
    Ok(())
}
