//! `#[braid::main(...)]` hands its settings to the loop it makes.
#![cfg(feature = "executor")]

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::Duration;

#[braid::main(blocking_threads = 1)]
async fn blocking_thread_ids() -> HashSet<ThreadId> {
    let jobs: Vec<_> = (0..4)
        .map(|_| {
            braid::spawn_blocking(|| {
                thread::sleep(Duration::from_millis(5));
                thread::current().id()
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for job in jobs {
        ids.insert(job.await.unwrap());
    }
    ids
}

#[test]
fn blocking_threads_caps_the_blocking_pool() {
    // Four jobs that overlap would get four threads by default; capped at one, they share it.
    assert_eq!(blocking_thread_ids().len(), 1);
}

/// A task whose one poll blocks the thread for 150 ms, longer than any threshold below.
async fn one_slow_poll() -> u64 {
    braid::spawn(async { thread::sleep(Duration::from_millis(150)) })
        .await
        .unwrap();
    braid::executor::metrics().slow_polls
}

#[braid::main(slow_poll_threshold = "1ms")]
async fn slow_polls_at_one_millisecond() -> u64 {
    one_slow_poll().await
}

#[braid::main(slow_poll_threshold = "off")]
async fn slow_polls_switched_off() -> u64 {
    one_slow_poll().await
}

#[test]
fn slow_poll_threshold_sets_what_counts_as_slow() {
    assert!(slow_polls_at_one_millisecond() >= 1);
    // 150 ms is over the default 100 ms; "off" counts nothing at all.
    assert_eq!(slow_polls_switched_off(), 0);
}

/// Starts a blocking job that runs `job`, and returns once it has started (a job dropped
/// before it starts never runs).
async fn start_blocking_job(job: impl FnOnce() + Send + 'static) {
    let (started, has_started) = mpsc::channel();
    drop(braid::spawn_blocking(move || {
        started.send(()).unwrap();
        job();
    }));
    braid::spawn_blocking(move || has_started.recv().unwrap())
        .await
        .unwrap();
}

#[braid::main(shutdown_timeout = "0s")]
async fn leaves_a_stuck_job(release: mpsc::Receiver<()>, done: mpsc::Sender<()>) {
    start_blocking_job(move || {
        let _ = release.recv();
        let _ = done.send(());
    })
    .await;
}

#[test]
fn shutdown_timeout_zero_does_not_wait_for_a_stuck_blocking_job() {
    let (release, stuck) = mpsc::channel();
    let (finished, done) = mpsc::channel();
    // Returns while the job is still blocked: it is released only afterwards.
    leaves_a_stuck_job(stuck, finished);
    assert!(done.try_recv().is_err(), "the job cannot have finished yet");
    release.send(()).unwrap();
    done.recv().unwrap();
}

#[braid::main(shutdown_timeout = "forever", yield_before_sleep = true)]
async fn waits_for_every_job(done: mpsc::Sender<()>) {
    start_blocking_job(move || {
        thread::sleep(Duration::from_millis(20));
        let _ = done.send(());
    })
    .await;
}

#[test]
fn shutdown_timeout_forever_waits_for_the_job() {
    let (finished, done) = mpsc::channel();
    waits_for_every_job(finished);
    // The loop's end waited for the job, so its message is already there.
    assert!(done.try_recv().is_ok());
}

macro_rules! main_with_threads {
    ($name:ident, $threads:literal) => {
        #[braid::main(blocking_threads = $threads)]
        async fn $name() -> usize {
            $threads
        }
    };
}

main_with_threads!(from_a_macro, 3);

#[test]
fn settings_may_come_from_another_macro() {
    assert_eq!(from_a_macro(), 3);
}
