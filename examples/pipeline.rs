//! A three-stage pipeline on braid's event loop — producer → transform → consumer — joined by
//! bounded async `Queue`s, showing back-pressure.
//!
//! ```text
//! cargo run --example pipeline               # 30 items through queues of 4
//! cargo run --example pipeline -- 100 8      # ITEMS CAPACITY
//! ```
//!
//! The producer could make items instantly, but the consumer needs a few milliseconds each.
//! Because the queues are bounded, `put` waits while a queue is full: the fast stages slow
//! down to the pace of the slowest instead of piling up items in memory. The lengths printed
//! never pass the capacity. When the producer is done it closes its queue; each stage closes
//! the next when its input runs dry, so the shutdown flows down the pipeline too.

use std::rc::Rc;
use std::time::Duration;

use braid::executor::sync::Queue;
use braid::executor::{run, sleep, spawn};
use examples::cli::Args;

fn main() {
    let mut args = Args::from_env("pipeline [ITEMS] [CAPACITY]   (defaults: 30 items, 4)");
    let items: u64 = args.next_or("ITEMS", 30);
    let capacity: usize = args.next_or("CAPACITY", 4);
    args.finish();
    if capacity == 0 {
        eprintln!("error: CAPACITY must be at least 1");
        std::process::exit(2);
    }

    run(async {
        let raw = Rc::new(Queue::new(capacity));
        let squared = Rc::new(Queue::new(capacity));

        let producer = spawn({
            let raw = Rc::clone(&raw);
            async move {
                let mut waits = 0;
                for n in 1..=items {
                    if raw.is_full() {
                        waits += 1; // this put will wait: the pipeline pushes back
                    }
                    raw.put(n).await.expect("only the producer closes `raw`");
                }
                raw.close();
                waits
            }
        });

        let transform = spawn({
            let (raw, squared) = (Rc::clone(&raw), Rc::clone(&squared));
            async move {
                // `get` fails once `raw` is closed and empty: the producer is done.
                while let Ok(n) = raw.get().await {
                    sleep(Duration::from_millis(1)).await;
                    squared
                        .put(n * n)
                        .await
                        .expect("only the transform closes `squared`");
                }
                squared.close();
            }
        });

        let mut longest = (0, 0);
        let mut total = 0;
        while let Ok(value) = squared.get().await {
            sleep(Duration::from_millis(3)).await; // the slow stage
            total += value;
            longest = (longest.0.max(raw.len()), longest.1.max(squared.len()));
            println!(
                "consumed {value:>6}   queued: raw {}/{capacity}, squared {}/{capacity}",
                raw.len(),
                squared.len()
            );
        }
        transform.await.expect("the transform does not panic");
        let waits = producer.await.expect("the producer does not panic");

        let expected: u64 = (1..=items).map(|n| n * n).sum();
        assert_eq!(total, expected, "every item arrives exactly once");
        println!(
            "sum of squares 1..={items} = {total}; longest queues: raw {}, squared {} \
             (capacity {capacity}); the producer waited {waits} times for room",
            longest.0, longest.1
        );
    });
}
