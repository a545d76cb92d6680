//! spawn_blocking and awaiting thread-pool handles.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use braid_executor::{run, spawn, spawn_blocking, EventLoop};
use common::within;

#[test]
fn blocking_work_runs_off_the_loop_thread() {
    within(Duration::from_secs(30), || {
        run(async {
            let loop_thread = std::thread::current().id();
            let task = spawn_blocking(move || std::thread::current().id());
            assert_ne!(task.await.unwrap(), loop_thread);
            let tasks: Vec<_> = (0..100u64).map(|i| spawn_blocking(move || i * i)).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            assert_eq!(sum, (0..100u64).map(|i| i * i).sum());
        });
    });
}

#[test]
fn the_loop_keeps_running_tasks_while_blocking_work_waits() {
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::builder().blocking_threads(2).build().unwrap();
        event_loop.block_on(async {
            let barrier = Arc::new(Barrier::new(2));
            let b = barrier.clone();
            let blocked = spawn_blocking(move || {
                b.wait();
                "released"
            });
            // This task runs on the loop and releases the blocking job: proof the loop was
            // not blocked by it.
            spawn_blocking(move || barrier.wait()).await.unwrap();
            assert_eq!(blocked.await.unwrap(), "released");
        });
    });
}

#[test]
fn a_panic_in_blocking_work_is_a_join_error() {
    run(async {
        let error = spawn_blocking(|| panic!("blocking failure"))
            .await
            .unwrap_err();
        assert!(error.is_panic());
        assert_eq!(
            *error.into_panic().downcast::<&str>().unwrap(),
            "blocking failure"
        );
        assert_eq!(spawn_blocking(|| 1).await.unwrap(), 1);
    });
}

#[test]
fn cancelling_queued_blocking_work_keeps_it_from_running() {
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::builder().blocking_threads(1).build().unwrap();
        event_loop.block_on(async {
            let (release, wait) = std::sync::mpsc::channel::<()>();
            let busy = spawn_blocking(move || wait.recv().unwrap());
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let queued = spawn_blocking(move || r.store(true, Ordering::SeqCst));
            braid_executor::yield_now().await;
            assert!(queued.cancel());
            assert!(queued.await.unwrap_err().is_cancelled());
            release.send(()).unwrap();
            busy.await.unwrap();
            assert!(!ran.load(Ordering::SeqCst));
        });
    });
}

#[test]
fn a_thread_pool_handle_can_be_awaited_in_a_task() {
    within(Duration::from_secs(30), || {
        let pool = braid_threadpool::ThreadPool::new(2).unwrap();
        let handle = pool.submit(|| {
            std::thread::sleep(Duration::from_millis(5));
            6 * 7
        });
        run(async move {
            let task = spawn(async move { handle.await.unwrap() });
            assert_eq!(task.await.unwrap(), 42);
        });
    });
}

#[test]
fn blocking_threads_must_be_positive() {
    let error = EventLoop::builder()
        .blocking_threads(0)
        .build()
        .unwrap_err();
    assert!(error.is_invalid_setting(), "{error:?}");
    assert!(!error.is_os() && error.os_error().is_none());
    assert!(error.to_string().contains("blocking_threads"), "{error}");
    // `?` in an io::Result function keeps working, with the kind the setting calls for.
    let io: std::io::Error = error.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn spawn_blocking_outside_a_loop_panics() {
    spawn_blocking(|| ()).detach();
}

#[test]
fn eight_blocking_calls_run_at_once_whatever_the_core_count() {
    // Each job waits until all eight are in: a pool of one thread per core (2 here, and
    // before braid's pool grew on demand) deadlocks, and the guard fails the test.
    within(Duration::from_secs(60), || {
        run(async {
            let barrier = Arc::new(Barrier::new(8));
            let jobs: Vec<_> = (0..8)
                .map(|i| {
                    let barrier = barrier.clone();
                    spawn_blocking(move || {
                        barrier.wait();
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for job in jobs {
                sum += job.await.unwrap();
            }
            assert_eq!(sum, (0..8).sum());
        });
    });
}

#[test]
fn blocking_threads_caps_the_pool() {
    within(Duration::from_secs(60), || {
        let event_loop = EventLoop::builder().blocking_threads(2).build().unwrap();
        event_loop.block_on(async {
            let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
            let jobs: Vec<_> = (0..16)
                .map(|_| {
                    let threads = threads.clone();
                    spawn_blocking(move || {
                        std::thread::sleep(Duration::from_millis(2));
                        threads.lock().unwrap().insert(std::thread::current().id());
                    })
                })
                .collect();
            for job in jobs {
                job.await.unwrap();
            }
            let used = threads.lock().unwrap().len();
            assert!((1..=2).contains(&used), "{used} threads");
        });
    });
}
