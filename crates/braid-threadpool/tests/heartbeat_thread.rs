//! A pool of several workers runs one heartbeat thread, which leaves with the pool. Alone in its
//! own test binary so that no other test starts or stops threads while it counts them.

#![cfg(target_os = "linux")]

mod common;

use std::thread;
use std::time::Duration;

use braid_threadpool::ThreadPool;

/// The threads of this process, as the kernel lists them.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task must be readable for this test")
        .count()
}

#[test]
fn a_dropped_pool_leaves_no_heartbeat_thread() {
    let before = threads();
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(
        threads(),
        before + 3,
        "two workers and a heartbeat thread expected"
    );
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
    // Let it go idle first, so the heartbeat thread is asleep when the pool is dropped.
    thread::sleep(Duration::from_millis(50));
    drop(pool);
    // `drop` joined the threads, but the kernel may list an exiting thread a moment longer.
    common::wait_for(|| threads() == before);

    // One worker has nobody to hand work to: no heartbeat thread.
    let single = ThreadPool::new(1).unwrap();
    assert_eq!(
        threads(),
        before + 1,
        "one worker and no heartbeat expected"
    );
    drop(single);
    common::wait_for(|| threads() == before);
}
