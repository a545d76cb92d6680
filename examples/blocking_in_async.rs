//! Blocking work from async code without stalling the event loop: `spawn_blocking` (Python's
//! `asyncio.to_thread`) and awaiting a job submitted to a braid thread pool.
//!
//! ```text
//! cargo run --example blocking_in_async           # each job takes about 300 ms
//! cargo run --example blocking_in_async -- 1000   # MILLIS per job
//! ```
//!
//! A ticker task prints every 50 ms while two blocking jobs run on other threads: the ticks
//! keep coming because the loop's thread never blocks. Had the jobs run on the loop itself,
//! there would be no tick until they finished.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use braid::executor::{run, sleep, spawn, spawn_blocking};
use braid::threadpool::ThreadPool;
use examples::cli::Args;

/// Blocking work: sleeps (like a blocking read or a C library call), then adds numbers.
fn slow_sum(millis: u64, upto: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    (1..=upto).sum()
}

fn main() {
    let mut args = Args::from_env("blocking_in_async [MILLIS]   (default 300)");
    let millis: u64 = args.next_or("MILLIS", 300);
    args.finish();

    // A pool of our own, as a program might keep for its CPU work.
    let pool = ThreadPool::new(2).unwrap_or_else(|error| {
        eprintln!("blocking_in_async: {error}");
        std::process::exit(1)
    });
    let start = Instant::now();

    run(async {
        let ticks = Rc::new(Cell::new(0u32));
        let ticker = spawn({
            let ticks = Rc::clone(&ticks);
            async move {
                loop {
                    sleep(Duration::from_millis(50)).await;
                    ticks.set(ticks.get() + 1);
                    println!(
                        "tick {:>2} at {:>4} ms",
                        ticks.get(),
                        start.elapsed().as_millis()
                    );
                }
            }
        });

        // Both jobs start now and run on other threads, at the same time.
        let on_loop_pool = spawn_blocking(move || slow_sum(millis, 1_000));
        // A braid thread pool's JoinHandle is a future: awaiting it pauses only this task.
        let on_own_pool = pool.submit(move || slow_sum(millis, 2_000));

        let first = on_loop_pool.await.expect("slow_sum does not panic");
        println!("spawn_blocking result: {first}");
        let second = on_own_pool.await.expect("slow_sum does not panic");
        println!("thread pool job result: {second}");
        ticker.cancel();
        println!(
            "both jobs done after {} ms; the loop ticked {} times meanwhile",
            start.elapsed().as_millis(),
            ticks.get()
        );
    });
}
