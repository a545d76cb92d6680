//! What chapter 7 says of crates built on tokio: awaited on braid's loop directly they panic
//! with tokio's "no reactor" message, and run fine on a tokio runtime of their own whose
//! handles braid awaits.
#![cfg(feature = "executor")]

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

#[test]
fn a_tokio_timer_on_braids_loop_panics_with_tokios_message() {
    let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
        braid::run(async { tokio::time::sleep(Duration::from_millis(1)).await })
    }))
    .unwrap_err();
    let message = panicked
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panicked.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("there is no reactor running"), "{message}");
}

#[test]
fn tokio_work_handed_to_a_tokio_runtime_is_awaited_on_braid() {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let results = braid::run(async {
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                tokio_rt.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(i % 5)).await;
                    i * 2
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    assert_eq!(results, (0..50u64).map(|i| i * 2).collect::<Vec<_>>());
}
