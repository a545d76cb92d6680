//! Ending a loop or a runtime never waits forever for a `spawn_blocking` job: jobs still
//! running get the shutdown timeout, then are left to finish on their own threads.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use braid_executor::{run, sleep, spawn_blocking, EventLoop, Runtime};
use common::{within, Capture};

/// A blocking job that reports it started, then waits for `release`, then reports it ended.
struct Blocked {
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
    ended: mpsc::Receiver<()>,
    /// The line of this file where the job was spawned.
    line: u32,
}

/// Spawns a [`Blocked`] job from inside a loop and waits (without blocking the loop) until
/// it runs on its thread.
async fn spawn_blocked_job() -> Blocked {
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let (ended_tx, ended) = mpsc::channel();
    let line = line!() + 1;
    spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv();
        ended_tx.send(()).unwrap();
    })
    .detach();
    let blocked = Blocked {
        started,
        release,
        ended,
        line,
    };
    while blocked.started.try_recv().is_err() {
        sleep(Duration::from_millis(1)).await;
    }
    blocked
}

impl Blocked {
    /// Releases the job, which must still be running, and waits for it to end.
    fn release_and_see_it_end(self) {
        self.release.send(()).unwrap();
        self.ended
            .recv_timeout(Duration::from_secs(30))
            .expect("the job was left running and ends once released");
    }
}

#[test]
fn run_returns_while_a_blocking_job_is_still_blocked() {
    // The job is released only after `run` returned: with a pool that waits for its jobs,
    // `run` never returns and the guard fails the test after 60 s.
    within(Duration::from_secs(60), || {
        let blocked = run(spawn_blocked_job());
        blocked.release_and_see_it_end();
    });
}

#[test]
fn dropping_a_loop_waits_at_most_its_shutdown_timeout() {
    within(Duration::from_secs(60), || {
        let event_loop = EventLoop::builder()
            .shutdown_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
        let blocked = event_loop.block_on(spawn_blocked_job());
        drop(event_loop);
        blocked.release_and_see_it_end();
    });
}

#[test]
fn a_job_that_ends_within_the_grace_is_waited_for() {
    within(Duration::from_secs(60), || {
        let event_loop = EventLoop::builder()
            .shutdown_timeout(Duration::from_secs(50))
            .build()
            .unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        event_loop.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            spawn_blocking(move || {
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(30));
                f.store(true, Ordering::SeqCst);
            })
            .detach();
            while started.try_recv().is_err() {
                sleep(Duration::from_millis(1)).await;
            }
        });
        drop(event_loop);
        assert!(
            finished.load(Ordering::SeqCst),
            "drop returned before the job ended"
        );
    });
}

#[test]
fn dropping_a_runtime_waits_at_most_its_shutdown_timeout() {
    within(Duration::from_secs(60), || {
        let runtime = Runtime::builder()
            .loops(1)
            .shutdown_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
        let task = runtime.spawn_on(0, spawn_blocked_job).unwrap();
        let blocked = runtime.block_on(task).unwrap();
        drop(runtime);
        blocked.release_and_see_it_end();
    });
}

#[test]
fn the_warning_names_where_a_job_left_running_was_spawned() {
    within(Duration::from_secs(60), || {
        let capture = Capture::default();
        let subscriber = capture.subscriber();
        let blocked = tracing::subscriber::with_default(subscriber, || {
            let event_loop = EventLoop::builder()
                .shutdown_timeout(Duration::from_millis(10))
                .build()
                .unwrap();
            let blocked = event_loop.block_on(spawn_blocked_job());
            drop(event_loop);
            blocked
        });
        let line = blocked.line;
        blocked.release_and_see_it_end();
        let log = capture.text();
        assert!(log.contains("WARN"), "{log}");
        assert!(log.contains("still running"), "{log}");
        assert!(log.contains(&format!("shutdown.rs:{line}:")), "{log}");
    });
}
