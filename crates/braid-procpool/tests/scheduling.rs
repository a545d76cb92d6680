//! Scheduling: no task waits behind another while a worker is free.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use braid_procpool::{ProcessPool, StartMethod};
use common::{Checks, METHODS};

/// Marks its start in `started`, then runs until `release` exists (at most a minute), which
/// it removes: a long task whose end the test decides, with no timing in the test at all.
fn run_until_released((started, release): (String, String)) -> u32 {
    std::fs::write(&started, b"started").unwrap();
    let give_up = Instant::now() + Duration::from_secs(60);
    while !Path::new(&release).exists() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = std::fs::remove_file(&release);
    std::process::id()
}

fn short(x: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(10));
    (x, std::process::id())
}

/// The files of one long task. Dropped (the test done, or failed), it releases the task if
/// the test has not, so that the pool's drop does not wait for it.
struct Markers {
    started: PathBuf,
    release: PathBuf,
    released: bool,
}

impl Markers {
    fn new() -> Markers {
        Markers {
            started: common::marker_path(),
            release: common::marker_path(),
            released: false,
        }
    }

    fn release(&mut self) {
        std::fs::write(&self.release, b"go").unwrap();
        self.released = true;
    }

    fn arg(&self) -> (String, String) {
        (
            self.started.display().to_string(),
            self.release.display().to_string(),
        )
    }
}

impl Drop for Markers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.started);
        if !self.released {
            let _ = std::fs::write(&self.release, b"go");
        }
    }
}

/// One worker runs a long task; short tasks submitted next all finish on the other worker
/// while the long one still runs.
fn short_tasks_pass_a_long_one(method: StartMethod, shorts: u64) {
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(method)
        .build()
        .expect("pool starts");
    let mut markers = Markers::new();
    let long = pool.submit(run_until_released, markers.arg());
    common::wait_for_marker(&markers.started);
    let handles: Vec<_> = (0..shorts).map(|x| pool.submit(short, x)).collect();
    let long_pid_guess = {
        // Every short task must finish without the long one being released.
        let mut pids = Vec::new();
        for (x, mut handle) in handles.into_iter().enumerate() {
            let (value, pid) = handle
                .join_timeout(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("short task {x} waited behind the long one"))
                .unwrap_or_else(|e| panic!("short task {x} failed: {e}"));
            assert_eq!(value, x as u64);
            pids.push(pid);
        }
        pids
    };
    assert!(
        !long.is_finished(),
        "the long task ended before it was released"
    );
    markers.release();
    let long_pid = long.join().expect("the long task");
    assert!(
        long_pid_guess.iter().all(|&pid| pid != long_pid),
        "a short task ran on the busy worker after the long one"
    );
}

/// The same with the short tasks submitted while both workers are busy, so that they queue.
fn queued_short_tasks_pass_a_long_one(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(method)
        .build()
        .expect("pool starts");
    let mut markers = Markers::new();
    let mut other = Markers::new();
    let long = pool.submit(run_until_released, markers.arg());
    let second = pool.submit(run_until_released, other.arg());
    common::wait_for_marker(&markers.started);
    common::wait_for_marker(&other.started);
    let handles: Vec<_> = (0..20).map(|x| pool.submit(short, x)).collect();
    // Free one worker: every queued short task must then finish without the long one.
    other.release();
    second.join().expect("the second long task");
    for (x, mut handle) in handles.into_iter().enumerate() {
        let (value, _) = handle
            .join_timeout(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("short task {x} waited behind the long one"))
            .unwrap_or_else(|e| panic!("short task {x} failed: {e}"));
        assert_eq!(value, x as u64);
    }
    assert!(
        !long.is_finished(),
        "the long task ended before it was released"
    );
    markers.release();
    long.join().expect("the long task");
}

/// Creates `dir/id` (failing if it exists: the task ran before), sleeping `millis` first.
fn run_once((dir, id, millis): (String, u64, u64)) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(Path::new(&dir).join(id.to_string()))
        .unwrap_or_else(|e| panic!("task {id} ran twice: {e}"));
    id
}

/// Many short tasks among long ones, on workers that keep taking jobs back from each other:
/// every task runs exactly once and its handle gets its own result.
fn every_task_runs_once(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(method)
        .build()
        .expect("pool starts");
    let dir = common::marker_path();
    std::fs::create_dir(&dir).unwrap();
    let path = dir.display().to_string();
    let arg = move |id: u64| {
        let millis = if id % 97 == 0 { 40 } else { 0 };
        (path.clone(), id, millis)
    };
    let n = 2_000;
    let handles: Vec<_> = (0..n).map(|id| pool.submit(run_once, arg(id))).collect();
    let mapped: Vec<_> = pool.map(run_once, (n..n + 500).map(arg), 7).collect();
    for (id, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(id as u64));
    }
    for (at, result) in mapped.into_iter().enumerate() {
        assert_eq!(result, Ok(n + at as u64));
    }
    let ran = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(ran as u64, n + 500);
    assert_eq!(pool.metrics().worker_deaths, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn identity(x: u64) -> u64 {
    x
}

/// Bursts of tasks, tasks one at a time, and a pool dropped the moment its last result is
/// in: every result comes back and every drop ends. Between tasks the pool looks for the
/// next one for a moment before it sleeps; a wake lost on the way to that sleep would leave
/// a task, or the drop, waiting forever.
fn nothing_stalls_between_tasks(method: StartMethod) {
    let join = |mut handle: braid_procpool::JoinHandle<u64>, what: &str| {
        handle
            .join_timeout(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{what} stalled"))
    };
    for round in 0..40 {
        let pool = ProcessPool::builder()
            .workers(2)
            .start_method(method)
            .build()
            .expect("pool starts");
        let handles: Vec<_> = (0..500).map(|i| pool.submit(identity, i)).collect();
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(
                join(handle, &format!("round {round}, task {i}")),
                Ok(i as u64)
            );
        }
        for i in 0..200 {
            let handle = pool.submit(identity, i);
            assert_eq!(
                join(handle, &format!("round {round}, round trip {i}")),
                Ok(i)
            );
        }
        // Dropped at once, while the pool still looks for more work.
        let (dropped, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(pool);
            let _ = dropped.send(());
        });
        done.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("round {round}: dropping the pool stalled"));
    }
}

/// Spins for `micros`: a task that ends when it says, give or take the clock.
fn spin_for(micros: u64) -> u64 {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {}
    micros
}

fn sleep_ms(millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

/// A task with a timeout that ends right about at its deadline, with a burst of tasks that
/// have none queued behind it: whatever the worker had begun when the deadline killed it,
/// only the timed task may ever be reported `TimedOut`.
fn a_timeout_blames_only_its_task(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .build()
        .expect("pool starts");
    for i in 0..150u64 {
        let timed =
            pool.submit_with_timeout(spin_for, 19_500 + i % 100 * 10, Duration::from_millis(20));
        let after: Vec<_> = (0..12).map(|_| pool.submit(sleep_ms, 1)).collect();
        let _ = timed.join();
        for (at, handle) in after.into_iter().enumerate() {
            let result = handle.join();
            assert_eq!(result, Ok(1), "round {i}: task {at} behind the timed one");
        }
    }
}

fn main() {
    braid_procpool::init();
    let mut checks = Checks::new();
    for method in METHODS {
        for shorts in [1, 6, 50] {
            checks.run(
                &format!("{method:?}: {shorts} short tasks pass a long one on a free worker"),
                || short_tasks_pass_a_long_one(method, shorts),
            );
        }
        checks.run(
            &format!("{method:?}: queued short tasks pass a long one once a worker frees"),
            || queued_short_tasks_pass_a_long_one(method),
        );
        checks.run(
            &format!("{method:?}: every task runs once while workers trade jobs"),
            || every_task_runs_once(method),
        );
        checks.run(
            &format!("{method:?}: a timeout blames only its own task"),
            || a_timeout_blames_only_its_task(method),
        );
        checks.run(
            &format!("{method:?}: nothing stalls between tasks, one at a time or in bursts"),
            || nothing_stalls_between_tasks(method),
        );
    }
    checks.finish();
}
