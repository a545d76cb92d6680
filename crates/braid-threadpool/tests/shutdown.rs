//! Shutting a pool down, both ways, and what happens to work around it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_threadpool::{Shutdown, ThreadPool};
use common::{occupy_worker, wait_for, within_guard, Gate};

#[test]
fn shutdown_wait_runs_everything_already_submitted() {
    let pool = ThreadPool::new(2).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let done = done.clone();
            pool.submit(move || {
                thread::sleep(Duration::from_micros(100));
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    pool.shutdown(Shutdown::Wait);
    assert_eq!(
        done.load(Ordering::SeqCst),
        200,
        "shutdown returned before the work was done"
    );
    for handle in handles {
        assert!(handle.is_finished());
        handle.join().unwrap();
    }
}

#[test]
fn shutdown_cancel_pending_cancels_queued_tasks_and_finishes_running_ones() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let running = occupy_worker(&pool, &gate, "ran to the end");
    let ran = Arc::new(AtomicUsize::new(0));
    let pending: Vec<_> = (0..20)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    thread::scope(|s| {
        let shutting_down = s.spawn(|| pool.shutdown(Shutdown::CancelPending));
        // The queued tasks are cancelled while the only worker is still busy.
        wait_for(|| pending.iter().all(|h| h.is_finished()));
        assert!(
            !shutting_down.is_finished(),
            "shutdown waits for the running task"
        );
        gate.open();
        shutting_down.join().unwrap();
    });

    assert_eq!(running.join().unwrap(), "ran to the end");
    for handle in pending {
        assert!(handle.join().unwrap_err().is_cancelled());
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn cancel_pending_also_cancels_tasks_queued_in_a_workers_own_deque() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let gate = Gate::new();
    let inner = pool.clone();
    let (sender, receiver) = std::sync::mpsc::channel();
    let parent = {
        let gate = gate.clone();
        pool.submit(move || {
            // Submitted from the worker itself: these go to its own deque.
            let children: Vec<_> = (0..5).map(|i| inner.submit(move || i)).collect();
            sender.send(children).unwrap();
            gate.wait();
        })
    };
    let children = receiver.recv().unwrap();
    thread::scope(|s| {
        let shutting_down = s.spawn(|| pool.shutdown(Shutdown::CancelPending));
        // Once a submit is refused, the pool is cancelling; only then let the worker go back
        // to its deque.
        wait_for(|| {
            let probe = pool.submit(|| 0);
            probe.is_finished() && probe.join().unwrap_err().is_shut_down()
        });
        gate.open();
        shutting_down.join().unwrap();
    });
    parent.join().unwrap();
    for child in children {
        let error = child.join().unwrap_err();
        assert!(error.is_cancelled(), "{error}");
    }
}

#[test]
fn submit_after_shutdown_reports_the_pool_was_shut_down() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown(Shutdown::Wait);
    let handle = pool.submit(|| 1);
    assert!(handle.is_finished());
    assert!(!handle.cancel());
    let error = handle.join().unwrap_err();
    assert!(error.is_shut_down());
    assert!(!error.is_cancelled() && !error.is_panic());
    assert!(error.to_string().contains("shut down"));
    // Also when awaited.
    let error = futures::executor::block_on(pool.submit(|| 2)).unwrap_err();
    assert!(error.is_shut_down());
}

#[test]
fn shutdown_is_idempotent_and_can_race_with_itself() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..50).map(|i| pool.submit(move || i)).collect();
    thread::scope(|s| {
        for how in [Shutdown::Wait, Shutdown::Wait, Shutdown::CancelPending] {
            let pool = &pool;
            s.spawn(move || pool.shutdown(how));
        }
    });
    pool.shutdown(Shutdown::Wait);
    for handle in handles {
        let result = handle.join();
        assert!(result.is_ok() || result.unwrap_err().is_cancelled());
    }
}

#[test]
fn dropping_the_pool_waits_for_submitted_work() {
    let done = Arc::new(AtomicUsize::new(0));
    {
        let pool = ThreadPool::new(2).unwrap();
        for _ in 0..20 {
            let done = done.clone();
            drop(pool.submit(move || {
                thread::sleep(Duration::from_millis(2));
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
    }
    assert_eq!(done.load(Ordering::SeqCst), 20);
}

#[test]
fn dropping_the_last_reference_inside_its_own_task_does_not_deadlock() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner = pool.clone();
    let (sender, receiver) = std::sync::mpsc::channel();
    let handle = pool.submit(move || {
        receiver.recv().unwrap();
        // By now the test dropped its reference: this drop shuts the pool down from inside.
        drop(inner);
        "dropped"
    });
    drop(pool);
    sender.send(()).unwrap();
    assert_eq!(within_guard(move || handle.join().unwrap()), "dropped");
}

#[test]
fn worker_threads_stop_and_run_their_stop_hook() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let counter = stopped.clone();
    let pool = ThreadPool::builder()
        .workers(3)
        .on_thread_stop(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    pool.submit(|| ()).join().unwrap();
    assert_eq!(stopped.load(Ordering::SeqCst), 0);
    pool.shutdown(Shutdown::Wait);
    assert_eq!(stopped.load(Ordering::SeqCst), 3);
}
