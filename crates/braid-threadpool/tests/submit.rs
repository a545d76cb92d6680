//! Submitting tasks, waiting on handles, cancelling them, and what panics do.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use braid_threadpool::ThreadPool;
use common::{occupy_worker, wait_for, within_guard, Gate, HANG_GUARD};

#[test]
fn submit_returns_values_from_worker_threads() {
    let pool = ThreadPool::builder()
        .workers(2)
        .thread_name("sub")
        .build()
        .unwrap();
    let caller = thread::current().id();
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            pool.submit(move || {
                (
                    i * 3,
                    thread::current().id(),
                    thread::current().name().map(str::to_owned),
                )
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let (value, id, name) = handle.join().unwrap();
        assert_eq!(value, i as u64 * 3);
        assert_ne!(id, caller);
        assert!(name.unwrap().starts_with("sub-"));
    }
}

#[test]
fn a_million_tasks_are_all_run_exactly_once() {
    const TASKS: usize = 1_000_000;
    let counter = Arc::new(AtomicUsize::new(0));
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..TASKS {
        let counter = counter.clone();
        drop(pool.submit(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
    }
    // Dropping the pool waits for every submitted task.
    within_guard(move || drop(pool));
    assert_eq!(counter.load(Ordering::Relaxed), TASKS);
}

#[test]
fn tasks_submitted_from_tasks_are_not_lost() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let counter = Arc::new(AtomicUsize::new(0));
    let outer: Vec<_> = (0..100)
        .map(|_| {
            let (pool2, counter) = (pool.clone(), counter.clone());
            pool.submit(move || {
                let inner: Vec<_> = (0..100)
                    .map(|_| {
                        let counter = counter.clone();
                        pool2.submit(move || counter.fetch_add(1, Ordering::Relaxed))
                    })
                    .collect();
                inner
                    .into_iter()
                    .map(|h| h.join().is_ok() as usize)
                    .sum::<usize>()
            })
        })
        .collect();
    let joined = within_guard(move || outer.into_iter().map(|h| h.join().unwrap()).sum::<usize>());
    assert_eq!(joined, 10_000);
    assert_eq!(counter.load(Ordering::Relaxed), 10_000);
}

#[test]
fn a_panicking_task_reports_to_its_handle_and_the_worker_survives() {
    let pool = ThreadPool::new(1).unwrap();
    let error = pool
        .submit(|| -> u32 { panic!("boom") })
        .join()
        .unwrap_err();
    assert!(error.is_panic());
    assert!(!error.is_cancelled());
    assert!(!error.is_shut_down());
    assert_eq!(error.to_string(), "the task panicked: boom");
    // Any payload comes back unchanged.
    let error = pool
        .submit(|| -> u32 { std::panic::panic_any(0xBEEF_u32) })
        .join()
        .unwrap_err();
    assert_eq!(error.to_string(), "the task panicked");
    let payload = error.into_panic();
    assert_eq!(payload.downcast_ref::<u32>(), Some(&0xBEEF));
    // The single worker is still alive and running tasks.
    for i in 0..10 {
        assert_eq!(pool.submit(move || i + 1).join().unwrap(), i + 1);
    }
}

#[test]
fn cancel_before_start_prevents_the_task_from_running() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let blocker = occupy_worker(&pool, &gate, ());
    let ran = Arc::new(AtomicBool::new(false));
    let queued = {
        let ran = ran.clone();
        pool.submit(move || ran.store(true, Ordering::SeqCst))
    };
    assert!(!queued.is_finished());
    assert!(queued.cancel(), "a queued task can be cancelled");
    assert!(
        !queued.cancel(),
        "cancelling twice reports false the second time"
    );
    assert!(queued.is_finished());
    gate.open();
    blocker.join().unwrap();
    let error = queued.join().unwrap_err();
    assert!(error.is_cancelled());
    assert!(!error.is_panic());
    drop(pool);
    assert!(!ran.load(Ordering::SeqCst), "a cancelled task never runs");
}

#[test]
fn cancel_on_a_running_or_finished_task_returns_false() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let running = occupy_worker(&pool, &gate, "finished anyway");
    assert!(!running.cancel());
    gate.open();
    assert_eq!(running.join().unwrap(), "finished anyway");

    let mut done = pool.submit(|| 1);
    wait_for(|| done.is_finished());
    assert!(!done.cancel());
    assert_eq!(done.join_timeout(Duration::ZERO).unwrap().unwrap(), 1);
}

#[test]
fn join_timeout_returns_none_until_the_task_finishes() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let mut handle = {
        let gate = gate.clone();
        pool.submit(move || {
            gate.wait();
            9
        })
    };
    assert!(handle.join_timeout(Duration::from_millis(20)).is_none());
    assert!(handle.join_timeout(Duration::ZERO).is_none());
    gate.open();
    let result = loop {
        if let Some(result) = handle.join_timeout(Duration::from_millis(50)) {
            break result;
        }
    };
    assert_eq!(result.unwrap(), 9);
}

/// The same steps as the process pool's `the handle's sequence` check: the two handles agree.
#[test]
fn a_handle_waits_cancels_and_refuses_a_second_take_like_the_process_pools() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let mut blocker = {
        let gate = gate.clone();
        pool.submit(move || {
            gate.wait();
            21 * 2
        })
    };
    let queued = pool.submit(|| 0);
    assert!(blocker.join_timeout(Duration::from_millis(10)).is_none());
    assert!(!blocker.is_finished(), "still usable and still running");
    assert!(queued.cancel(), "a task no worker started can be cancelled");
    gate.open();
    assert_eq!(
        blocker.join_timeout(HANG_GUARD).map(Result::unwrap),
        Some(42)
    );
    assert!(blocker.is_finished());
    assert!(queued.join().unwrap_err().is_cancelled());
    assert!(!blocker.cancel(), "a finished task cannot be cancelled");
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        blocker.join_timeout(Duration::ZERO)
    }));
    let payload = again.expect_err("a second take panics");
    let message = braid_threadpool::panic_message(&*payload).unwrap_or_default();
    assert!(message.contains("already taken"), "{message}");
}

#[test]
fn a_handle_can_be_awaited_as_a_future() {
    let pool = ThreadPool::new(2).unwrap();
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        pool.submit(move || {
            gate.wait();
            "from the pool"
        })
    };
    let opener = {
        let gate = gate.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            gate.open();
        })
    };
    // block_on parks until the waker stored by the handle is woken by the finishing worker.
    let value = within_guard(move || futures::executor::block_on(handle));
    assert_eq!(value.unwrap(), "from the pool");
    opener.join().unwrap();

    let failing = pool.submit(|| -> () { panic!("async boom") });
    let error = futures::executor::block_on(failing).unwrap_err();
    assert!(error.is_panic());
}

#[test]
fn futures_can_await_many_handles_at_once() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..200u32).map(|i| pool.submit(move || i)).collect();
    let values =
        within_guard(move || futures::executor::block_on(futures::future::join_all(handles)));
    let sum: u32 = values.into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, (0..200).sum());
}

#[test]
fn waiting_on_a_handle_of_the_same_pool_inside_a_one_worker_pool_does_not_deadlock() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner_pool = pool.clone();
    let outer = pool.submit(move || {
        // The only worker waits for tasks that can only run on that same worker.
        let a = inner_pool.submit(|| 20);
        let b = inner_pool.submit(|| 22);
        let mut c = inner_pool.submit(|| 0);
        let c = loop {
            if let Some(c) = c.join_timeout(Duration::from_millis(5)) {
                break c.unwrap();
            }
        };
        a.join().unwrap() + b.join().unwrap() + c
    });
    assert_eq!(within_guard(move || outer.join().unwrap()), 42);
}

#[test]
fn a_task_may_wait_on_a_task_submitted_later_from_outside() {
    // The only worker blocks in `join` on a handle it receives through a channel; the task
    // behind that handle is injected after the worker went to sleep waiting.
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let (sender, receiver) = mpsc::channel::<braid_threadpool::JoinHandle<u32>>();
    let waiting = pool.submit(move || receiver.recv().unwrap().join().unwrap() + 1);
    thread::sleep(Duration::from_millis(20));
    // The worker is blocked in `recv`, so this task stays queued until the worker reaches `join`,
    // which must run it instead of sleeping.
    let later = pool.submit(|| 41);
    sender.send(later).unwrap();
    assert_eq!(within_guard(move || waiting.join().unwrap()), 42);
}

#[test]
fn metrics_count_every_task_run() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..500).map(|i| pool.submit(move || i)).collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let metrics = pool.metrics();
    assert_eq!(metrics.workers().len(), 2);
    assert_eq!(metrics.tasks_run(), 500);
    assert!(metrics.tasks_stolen() <= metrics.tasks_run());
    assert_eq!(metrics.queued(), 0);
}

#[test]
fn metrics_show_queued_tasks() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let blocker = occupy_worker(&pool, &gate, ());
    let queued: Vec<_> = (0..5).map(|i| pool.submit(move || i)).collect();
    assert_eq!(pool.metrics().queued(), 5);
    gate.open();
    blocker.join().unwrap();
    for handle in queued {
        handle.join().unwrap();
    }
}

#[test]
fn public_types_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ThreadPool>();
    send_sync::<braid_threadpool::JoinHandle<Vec<u8>>>();
    send_sync::<braid_threadpool::JoinError>();
    send_sync::<braid_threadpool::Scope<'static>>();
    send_sync::<braid_threadpool::Metrics>();
    send_sync::<braid_threadpool::BuildError>();
}
