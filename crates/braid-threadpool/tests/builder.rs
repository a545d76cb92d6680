//! Configuring a pool and the errors for bad settings.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use braid_threadpool::{BuildError, ThreadPool};

#[test]
fn zero_workers_is_an_error_with_an_actionable_message() {
    let error = ThreadPool::new(0).unwrap_err();
    assert!(matches!(error, BuildError::NoWorkers));
    assert!(error.to_string().contains("at least one worker"));
    let error = ThreadPool::builder().workers(0).build().unwrap_err();
    assert!(matches!(error, BuildError::NoWorkers));
    assert!(error.is_invalid_setting() && !error.is_os() && error.os_error().is_none());
    let io: std::io::Error = error.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn absurd_settings_are_errors_not_panics() {
    let error = ThreadPool::builder()
        .workers(usize::MAX)
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        BuildError::TooManyWorkers {
            requested: usize::MAX,
            ..
        }
    ));
    let error = ThreadPool::builder()
        .workers(1)
        .stack_size(0)
        .build()
        .unwrap_err();
    assert!(matches!(error, BuildError::InvalidStackSize));
    assert!(error.to_string().contains("stack size"));
}

#[test]
fn default_builder_uses_every_cpu() {
    let pool = ThreadPool::builder().build().unwrap();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(pool.workers(), cpus);
}

#[test]
fn hooks_see_every_worker_index_and_run_on_the_worker_threads() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let log = started.clone();
    let pool = ThreadPool::builder()
        .workers(4)
        .thread_name("hooked")
        .on_thread_start(move |index| {
            let name = std::thread::current().name().unwrap().to_owned();
            log.lock().unwrap().push((index, name));
        })
        .on_thread_start(|_| {}) // a later call replaces the earlier hook
        .build()
        .unwrap();
    drop(pool);
    assert!(
        started.lock().unwrap().is_empty(),
        "the replaced hook never ran"
    );

    let started = Arc::new(Mutex::new(Vec::new()));
    let log = started.clone();
    let pool = ThreadPool::builder()
        .workers(4)
        .thread_name("hooked")
        .on_thread_start(move |index| {
            let name = std::thread::current().name().unwrap().to_owned();
            log.lock().unwrap().push((index, name));
        })
        .build()
        .unwrap();
    drop(pool);
    let started = started.lock().unwrap();
    let indices: HashSet<usize> = started.iter().map(|(index, _)| *index).collect();
    assert_eq!(indices, (0..4).collect());
    for (index, name) in started.iter() {
        assert_eq!(name, &format!("hooked-{index}"));
    }
}

#[test]
fn a_panicking_start_hook_does_not_break_the_pool() {
    let pool = ThreadPool::builder()
        .workers(2)
        .on_thread_start(|_| panic!("hook failure"))
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| 3).join().unwrap(), 3);
}

#[test]
fn a_large_stack_allows_deep_recursion_in_tasks() {
    fn depth(n: u32) -> u32 {
        // A frame that the optimizer cannot shrink away.
        std::hint::black_box(&[n as u8; 512]);
        if n == 0 {
            return 0;
        }
        1 + depth(n - 1)
    }
    let pool = ThreadPool::builder()
        .workers(1)
        .stack_size(64 << 20)
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| depth(20_000)).join().unwrap(), 20_000);
}
