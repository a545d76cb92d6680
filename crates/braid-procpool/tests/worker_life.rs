//! Worker starts and worker ends: a worker that fails to start is retried until one starts,
//! and workers end when the program that owns the pool dies.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use braid_procpool::{ProcessPool, StartMethod, TaskError};
use common::{double, eventually, marker_path, pid, Checks, METHODS};

const REFUSE_ENV: &str = "BRAID_PROCPOOL_TEST_REFUSE_START";

/// Panics while the file named by `REFUSE_ENV` exists: a start failure the test turns on
/// and off.
fn refusing_initializer() {
    if let Some(path) = std::env::var_os(REFUSE_ENV) {
        if Path::new(&path).exists() {
            panic!("refusing to start while the marker file exists");
        }
    }
}

/// Collects what the `tracing` subscriber writes, to check a warning's text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn install(&self) {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no subscriber yet");
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A worker that cannot start is retried, never given up: while none can start, queued and
/// new tasks fail with the reason instead of waiting, and once starts succeed again the pool
/// serves again. Every failed start is counted and logged.
fn failed_starts_are_retried(method: StartMethod, log: &Capture) {
    let refuse = marker_path();
    std::env::set_var(REFUSE_ENV, &refuse);
    // Every task needs a new worker.
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .max_tasks_per_child(1)
        .initializer(refusing_initializer)
        .build()
        .unwrap();
    assert_eq!(pool.metrics().start_failures, 0);
    std::fs::write(&refuse, b"").unwrap();
    let first = pool.submit(pid, ());
    // Waits for the worker after `first`, which cannot start.
    let queued = pool.submit(double, 1);
    assert!(first.join().is_ok());
    let is_refusal =
        |e: &TaskError| matches!(e, TaskError::WorkerStart(m) if m.contains("refusing to start"));
    match queued.join_timeout(Duration::from_secs(60)) {
        Ok(Err(e)) if is_refusal(&e) => {}
        Ok(other) => panic!("the queued task got {other:?}"),
        Err(_) => panic!("the queued task waited for a worker that cannot start"),
    }
    // Three failures in a row used to give the slot up for good.
    eventually("five failed starts", || pool.metrics().start_failures >= 5);
    match pool.submit(double, 2).join_timeout(Duration::from_secs(60)) {
        Ok(Err(e)) if is_refusal(&e) => {}
        Ok(other) => panic!("a task submitted while no worker can start got {other:?}"),
        Err(_) => panic!("a task submitted while no worker can start waited"),
    }
    let warnings = log.text();
    assert!(
        warnings.contains("WARN") && warnings.contains("refusing to start"),
        "no warning names the reason: {warnings:?}"
    );
    std::fs::remove_file(&refuse).unwrap();
    eventually("the pool to take work again", || {
        matches!(
            pool.submit(double, 3).join_timeout(Duration::from_secs(30)),
            Ok(Ok(6))
        )
    });
    let failures = pool.metrics().start_failures;
    for i in 0..3 {
        assert_eq!(pool.submit(double, i).join(), Ok(i * 2));
    }
    assert_eq!(
        pool.metrics().start_failures,
        failures,
        "a start that succeeds counts as no failure"
    );
    assert!(pool.metrics().respawns >= 4);
    drop(pool);
    std::env::remove_var(REFUSE_ENV);
}

fn main() {
    braid_procpool::init();
    let log = Capture::default();
    log.install();
    let mut checks = Checks::new();
    for method in METHODS {
        let name = |what: &str| format!("{method:?}: {what}");
        checks.run(
            &name("failed starts are retried until one succeeds"),
            || failed_starts_are_retried(method, &log),
        );
    }
    checks.finish();
}
