use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::pool::{lock, Pool};

/// Sets its flag when dropped: proves a job was dropped unrun.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn an_idle_thread_is_reused_before_a_new_one_starts() {
    let pool = Pool::new(8);
    let (done, finished) = mpsc::channel();
    for _ in 0..20 {
        let done = done.clone();
        pool.submit(
            Box::new(move || done.send(std::thread::current().id()).unwrap()),
            Location::caller(),
        )
        .unwrap();
        // One at a time: each job finds the previous one's thread idle.
        finished.recv().unwrap();
        while lock(pool.shared()).idle == 0 {
            std::thread::yield_now();
        }
    }
    assert_eq!(lock(pool.shared()).threads, 1);
    assert!(pool.shutdown(Duration::from_secs(30)).is_empty());
    assert_eq!(
        lock(pool.shared()).threads,
        0,
        "idle threads exit at shutdown"
    );
}

#[test]
fn shutdown_names_running_jobs_and_drops_queued_ones() {
    let pool = Pool::new(1);
    let (started_tx, started) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let running_at = Location::caller();
    pool.submit(
        Box::new(move || {
            started_tx.send(()).unwrap();
            let _ = wait.recv();
        }),
        running_at,
    )
    .unwrap();
    started.recv().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    pool.submit(Box::new(move || drop(flag)), Location::caller())
        .unwrap();
    let left = pool.shutdown(Duration::from_millis(10));
    assert_eq!(left, vec![running_at]);
    assert!(dropped.load(Ordering::SeqCst), "the queued job was dropped");

    // A closed pool drops new work unrun.
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    pool.submit(
        Box::new(move || {
            let _flag = flag;
            r.store(true, Ordering::SeqCst);
        }),
        Location::caller(),
    )
    .unwrap();
    assert!(dropped.load(Ordering::SeqCst) && !ran.load(Ordering::SeqCst));

    // The job left running finishes on its thread, which then exits.
    release.send(()).unwrap();
    assert!(pool.shutdown(Duration::from_secs(30)).is_empty());
    assert_eq!(lock(pool.shared()).threads, 0);
}
