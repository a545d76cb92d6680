//! The failure matrix every way of starting workers is put through: each way a task can
//! fail, the error it must get, and what the pool must look like afterwards.

use std::time::Duration;

use braid_procpool::{JoinHandle, ProcessPool, TaskError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{double, eventually};

pub fn panics(x: u64) -> u64 {
    panic!("task {x} refuses")
}

pub fn exits_with_3(_: u64) -> u64 {
    std::process::exit(3)
}

pub fn aborts(_: u64) -> u64 {
    std::process::abort()
}

pub fn segfaults(_: u64) -> u64 {
    // Rust's own SIGSEGV handler (stack-overflow detection) would swallow a raised signal,
    // so restore the default action first: the process dies as a real segfault would.
    // SAFETY: signal and raise have no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV ends the process")
}

pub fn kills_itself(_: u64) -> u64 {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL ends the process")
}

pub fn loops_forever(_: u64) -> u64 {
    loop {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Encodes fine, but never decodes.
#[derive(Debug)]
pub struct Undecodable;

impl Serialize for Undecodable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(7)
    }
}

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("Undecodable never decodes"))
    }
}

pub fn returns_undecodable(_: u64) -> Undecodable {
    Undecodable
}

/// Never encodes.
#[derive(Debug, Deserialize)]
pub struct Unencodable(u64);

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unencodable never encodes"))
    }
}

pub fn takes_unencodable(x: Unencodable) -> u64 {
    x.0
}

/// How one failure must look.
pub type Outcome = Box<dyn FnOnce() -> Result<(), TaskError>>;

pub fn waiter<R: 'static>(handle: JoinHandle<R>) -> Outcome {
    Box::new(move || handle.join().map(drop))
}

pub struct Failure {
    pub name: &'static str,
    /// Submits the failing task; the returned closure waits for it.
    pub submit: fn(&ProcessPool) -> Outcome,
    pub expect: fn(&TaskError) -> bool,
    /// Whether the failure costs the worker its life.
    pub kills_worker: bool,
}

pub fn died_with(e: &TaskError, code: Option<i32>, signal: Option<i32>) -> bool {
    matches!(e, TaskError::WorkerDied { pid, exit_code, signal: s, .. } if *pid > 0 && *exit_code == code && *s == signal)
}

pub const FAILURES: &[Failure] = &[
    Failure {
        name: "panic",
        submit: |p| waiter(p.submit(panics, 5)),
        expect: |e| matches!(e, TaskError::Panicked { message } if message == "task 5 refuses"),
        kills_worker: false,
    },
    Failure {
        name: "exit(3)",
        submit: |p| waiter(p.submit(exits_with_3, 0)),
        expect: |e| died_with(e, Some(3), None) && e.to_string().contains("exited with code 3"),
        kills_worker: true,
    },
    Failure {
        name: "abort",
        submit: |p| waiter(p.submit(aborts, 0)),
        expect: |e| died_with(e, None, Some(libc::SIGABRT)),
        kills_worker: true,
    },
    Failure {
        name: "segfault",
        submit: |p| waiter(p.submit(segfaults, 0)),
        expect: |e| died_with(e, None, Some(libc::SIGSEGV)),
        kills_worker: true,
    },
    Failure {
        name: "SIGKILL",
        submit: |p| waiter(p.submit(kills_itself, 0)),
        expect: |e| died_with(e, None, Some(libc::SIGKILL)) && e.to_string().contains("signal 9"),
        kills_worker: true,
    },
    Failure {
        name: "timeout",
        submit: |p| waiter(p.submit_with_timeout(loops_forever, 0, Duration::from_millis(300))),
        expect: |e| *e == TaskError::TimedOut,
        kills_worker: true,
    },
    Failure {
        name: "result fails to decode",
        submit: |p| waiter(p.submit(returns_undecodable, 0)),
        expect: |e| matches!(e, TaskError::Decode(m) if m.contains("Undecodable")),
        kills_worker: false,
    },
    Failure {
        name: "argument fails to encode",
        submit: |p| waiter(p.submit(takes_unencodable, Unencodable(1))),
        expect: |e| matches!(e, TaskError::Encode(m) if m.contains("Unencodable")),
        kills_worker: false,
    },
];

pub fn check_failure(make_pool: &dyn Fn() -> ProcessPool, failure: &Failure) {
    let pool = make_pool();
    let before = pool.metrics();
    // A task on the other worker while the failure happens.
    let other = pool.submit(super::sleep_then_pid, 150);
    let bad = (failure.submit)(&pool);
    let behind: Vec<_> = (0..8).map(|i| pool.submit(double, i)).collect();
    let error = bad().expect_err("the failing task must fail");
    assert!(
        (failure.expect)(&error),
        "{}: unexpected error {error:?}",
        failure.name
    );
    assert!(
        other.join().is_ok(),
        "the task on the other worker must complete"
    );
    for (i, handle) in behind.into_iter().enumerate() {
        assert_eq!(
            handle.join(),
            Ok(i as u64 * 2),
            "tasks queued behind must complete"
        );
    }
    if failure.kills_worker {
        eventually("a replacement worker", || {
            pool.metrics().respawns > before.respawns
        });
        eventually("two workers again", || pool.metrics().workers == 2);
    } else {
        assert_eq!(
            pool.metrics().respawns,
            before.respawns,
            "no worker should be replaced"
        );
    }
    let m = pool.metrics();
    match failure.name {
        "timeout" => assert_eq!(m.timeouts, 1),
        "panic" => assert_eq!(m.panics, 1),
        // 1 task on the other worker and 8 behind; the failing one never reached a worker.
        "argument fails to encode" => assert_eq!(m.tasks_done, before.tasks_done + 9),
        _ if failure.kills_worker => assert_eq!(m.worker_deaths, 1),
        _ => assert_eq!(m.worker_deaths, 0),
    }
    // The pool keeps serving, on both workers.
    let more: Vec<_> = (0..20).map(|i| pool.submit(double, i)).collect();
    let results: Vec<_> = more.into_iter().map(|h| h.join()).collect();
    assert_eq!(results, (0..20).map(|i| Ok(i * 2)).collect::<Vec<_>>());
}
