//! A program whose own `main` carries `#[braid::main(...)]` and uses a process pool.
//!
//! The Spawn and ForkServer start methods run this executable again to make workers, so the
//! attribute must call `braid::procpool::init()` before the body: without it the workers
//! would run this `main` instead of serving tasks, and the pool would refuse to start. It runs
//! with its own `main` (`harness = false`), as a user's program would.

use braid::procpool::{ProcessPool, StartMethod};

fn square(x: u64) -> u64 {
    x * x
}

#[braid::main(blocking_threads = 2, slow_poll_threshold = "off")]
async fn main() {
    for method in [
        StartMethod::Spawn,
        StartMethod::ForkServer,
        StartMethod::Fork,
    ] {
        let pool = ProcessPool::builder()
            .workers(2)
            .start_method(method)
            .build()
            .unwrap_or_else(|error| panic!("a {method:?} pool under #[braid::main]: {error}"));
        // Awaited on the loop, and joined from a blocking thread.
        assert_eq!(pool.submit(square, 7).await, Ok(49), "{method:?}");
        let handle = pool.submit(square, 8);
        let joined = braid::spawn_blocking(move || handle.join()).await.unwrap();
        assert_eq!(joined, Ok(64), "{method:?}");
        let sum: u64 = pool.map(square, 1..=10, 3).map(Result::unwrap).sum();
        assert_eq!(sum, 385, "{method:?}");
        // No worker was replaced: every task ran in a process that served it.
        assert_eq!(pool.metrics().respawns, 0, "{method:?}");
    }
    println!("process pools of every start method ran under #[braid::main]");
}
