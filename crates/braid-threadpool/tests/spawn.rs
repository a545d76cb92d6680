//! `ThreadPool::spawn`: jobs with no handle, from outside the pool and from its workers,
//! around shutdown both ways, and when they panic.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use braid_threadpool::{Shutdown, ThreadPool};
use common::{occupy_worker, wait_for, within_guard, Gate};

/// Counts its drops: a job's captures are dropped exactly once, run or not.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

static RAN: AtomicUsize = AtomicUsize::new(0);

fn bump() {
    RAN.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn every_spawned_job_runs_once_including_ones_that_capture_nothing() {
    within_guard(|| {
        let pool = ThreadPool::new(2).unwrap();
        // A `fn` item is zero-sized: these jobs share one dangling address, which must not
        // confuse the queues (or `join`, which recognises its own job by address).
        for _ in 0..10_000 {
            pool.spawn(bump).unwrap();
        }
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..10_000 {
            let ran = ran.clone();
            pool.spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        // Joins running beside the spawned jobs still find their own halves.
        let (a, b) = pool.join(|| 1, || 2);
        assert_eq!((a, b), (1, 2));
        pool.shutdown(Shutdown::Wait);
        assert_eq!(RAN.load(Ordering::SeqCst), 10_000);
        assert_eq!(ran.load(Ordering::SeqCst), 10_000);
        assert_eq!(
            Arc::strong_count(&ran),
            1,
            "a job's captures were not dropped"
        );
    });
}

#[test]
fn a_worker_can_spawn_onto_its_own_pool() {
    within_guard(|| {
        let pool = Arc::new(ThreadPool::new(2).unwrap());
        let (sender, receiver) = mpsc::channel();
        let inner = pool.clone();
        pool.spawn(move || {
            for i in 0..100 {
                let sender = sender.clone();
                inner.spawn(move || sender.send(i).unwrap()).unwrap();
            }
        })
        .unwrap();
        let mut got: Vec<i32> = receiver.iter().take(100).collect();
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}

#[test]
fn a_panicking_job_leaves_its_worker_alive_for_the_next() {
    within_guard(|| {
        let pool = ThreadPool::new(1).unwrap();
        for _ in 0..3 {
            pool.spawn(|| panic!("a spawned job panics")).unwrap();
        }
        // The only worker survived all three.
        assert_eq!(pool.submit(|| 7).join().unwrap(), 7);
        assert_eq!(pool.metrics().workers()[0].tasks_run(), 4);
    });
}

#[test]
fn a_job_whose_panic_payload_panics_on_drop_does_not_kill_the_worker() {
    struct Nasty;
    impl Drop for Nasty {
        fn drop(&mut self) {
            panic!("the payload's destructor panics");
        }
    }
    within_guard(|| {
        let pool = ThreadPool::new(1).unwrap();
        pool.spawn(|| std::panic::panic_any(Nasty)).unwrap();
        assert_eq!(pool.submit(|| "alive").join().unwrap(), "alive");
    });
}

#[test]
fn after_shutdown_spawn_says_so_and_drops_the_job_unrun() {
    within_guard(|| {
        let pool = ThreadPool::new(1).unwrap();
        pool.shutdown(Shutdown::Wait);
        let dropped = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(dropped.clone());
        let ran2 = ran.clone();
        let error = pool
            .spawn(move || {
                let _guard = guard;
                ran2.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap_err();
        assert!(error.is_shut_down(), "{error}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn shutdown_wait_runs_the_spawned_jobs_already_queued() {
    within_guard(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let running = occupy_worker(&pool, &gate, ());
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..50 {
            let ran = ran.clone();
            pool.spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        thread::scope(|s| {
            let shutting_down = s.spawn(|| pool.shutdown(Shutdown::Wait));
            wait_for(|| pool.spawn(|| ()).is_err());
            gate.open();
            shutting_down.join().unwrap();
        });
        running.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 50);
    });
}

#[test]
fn cancel_pending_drops_queued_spawned_jobs_unrun_with_their_captures() {
    within_guard(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let running = occupy_worker(&pool, &gate, "finished");
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            let ran = ran.clone();
            let guard = DropCount(dropped.clone());
            pool.spawn(move || {
                let _guard = guard;
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        thread::scope(|s| {
            let shutting_down = s.spawn(|| pool.shutdown(Shutdown::CancelPending));
            // Dropped while the only worker is still busy: nothing waits for it.
            wait_for(|| dropped.load(Ordering::SeqCst) == 20);
            gate.open();
            shutting_down.join().unwrap();
        });
        assert_eq!(running.join().unwrap(), "finished");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(dropped.load(Ordering::SeqCst), 20);
    });
}
