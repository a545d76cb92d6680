//! An idle pool sleeps. Alone in its own test binary so no other test's threads use CPU in
//! this process while it measures.

#![cfg(unix)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_threadpool::ThreadPool;

/// User plus system CPU time this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` fills the zeroed struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

#[test]
fn an_idle_pool_uses_no_cpu_and_wakes_for_new_work() {
    let pool = ThreadPool::new(2).unwrap();
    // Get the workers through their start-up and a first round of work.
    let counter = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let counter = counter.clone();
        drop(pool.submit(move || counter.fetch_add(1, Ordering::Relaxed)));
    }
    common::wait_for(|| counter.load(Ordering::Relaxed) == 1000);
    thread::sleep(Duration::from_millis(50));

    let before = cpu_time();
    thread::sleep(Duration::from_secs(1));
    let used = cpu_time() - before;
    assert!(
        used < Duration::from_millis(50),
        "an idle 2-worker pool used {used:?} of CPU in one second"
    );

    // Sleeping workers still pick up new work.
    assert_eq!(pool.submit(|| 7).join().unwrap(), 7);
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
}
