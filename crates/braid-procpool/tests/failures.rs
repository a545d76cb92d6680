//! Every way a task can fail, under every start method: the task gets the matching error,
//! other tasks are untouched, a dead worker is replaced, and the pool keeps serving.

mod common;

use std::time::Duration;

use braid_procpool::{JoinHandle, ProcessPool, StartMethod, TaskError};
use common::{double, eventually, pool, Checks, METHODS};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn panics(x: u64) -> u64 {
    panic!("task {x} refuses")
}

fn exits_with_3(_: u64) -> u64 {
    std::process::exit(3)
}

fn aborts(_: u64) -> u64 {
    std::process::abort()
}

fn segfaults(_: u64) -> u64 {
    // Rust's own SIGSEGV handler (stack-overflow detection) would swallow a raised signal,
    // so restore the default action first: the process dies as a real segfault would.
    // SAFETY: signal and raise have no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV ends the process")
}

fn kills_itself(_: u64) -> u64 {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL ends the process")
}

fn loops_forever(_: u64) -> u64 {
    loop {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Encodes fine, but never decodes.
#[derive(Debug)]
struct Undecodable;

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

fn returns_undecodable(_: u64) -> Undecodable {
    Undecodable
}

/// Never encodes.
#[derive(Debug, Deserialize)]
struct Unencodable(u64);

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unencodable never encodes"))
    }
}

fn takes_unencodable(x: Unencodable) -> u64 {
    x.0
}

/// How one failure must look.
type Outcome = Box<dyn FnOnce() -> Result<(), TaskError>>;

fn waiter<R: 'static>(handle: JoinHandle<R>) -> Outcome {
    Box::new(move || handle.join().map(drop))
}

struct Failure {
    name: &'static str,
    /// Submits the failing task; the returned closure waits for it.
    submit: fn(&ProcessPool) -> Outcome,
    expect: fn(&TaskError) -> bool,
    /// Whether the failure costs the worker its life.
    kills_worker: bool,
}

fn died_with(e: &TaskError, code: Option<i32>, signal: Option<i32>) -> bool {
    matches!(e, TaskError::WorkerDied { pid, exit_code, signal: s } if *pid > 0 && *exit_code == code && *s == signal)
}

const FAILURES: &[Failure] = &[
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

fn check_failure(make_pool: &dyn Fn() -> ProcessPool, failure: &Failure) {
    let pool = make_pool();
    let before = pool.metrics();
    // A task on the other worker while the failure happens.
    let other = pool.submit(common::sleep_then_pid, 150);
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

/// A worker that dies while it holds no task costs no task: the next one goes elsewhere.
fn idle_worker_killed(method: StartMethod) {
    let pool = pool(method, 1);
    let pid = pool.submit(common::pid, ()).join().unwrap();
    // SAFETY: kill has no memory-safety preconditions; `pid` is this pool's worker.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    // Submitted at once: the first may meet the dying worker. If its bytes were still in the
    // pipe, it goes to the replacement; only if the dying process had already read it (a
    // kill racing the hand-over) does it fail, and then with the worker's death.
    let results: Vec<_> = (0..10)
        .map(|i| pool.submit(double, i))
        .map(|h| h.join())
        .collect();
    assert!(
        matches!(&results[0], Ok(0)) || matches!(&results[0], Err(e) if e.is_worker_died()),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1..], (1..10).map(|i| Ok(i * 2)).collect::<Vec<_>>());
    eventually("the death to be counted", || {
        pool.metrics().worker_deaths == 1
    });
    assert!(pool.metrics().respawns >= 1);
    assert_ne!(pool.submit(common::pid, ()).join().unwrap(), pid);
}

/// A task message several times a pipe's size, sent to an idle worker that dies before
/// reading it, goes whole to the replacement: the start of it sits unread in the dead
/// worker's pipe and the rest was never written, and neither part may be lost.
fn big_task_to_an_idle_worker_that_dies(method: StartMethod) {
    let pool = pool(method, 1);
    for round in 0..3 {
        let pid = pool.submit(common::pid, ()).join().unwrap() as libc::pid_t;
        // Stopped, the idle worker reads nothing: the pipe fills with the start of the task
        // and the rest waits in the pool. Then it dies without having read a byte.
        // SAFETY: kill has no memory-safety preconditions; `pid` is this pool's worker.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let big = pool.submit(byte_sum, vec![3u8; 4 << 20]);
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(big.join(), Ok(3 * (4 << 20)), "round {round}");
    }
    eventually("the deaths to be counted", || {
        pool.metrics().worker_deaths == 3
    });
}

fn byte_sum(bytes: Vec<u8>) -> u64 {
    bytes.iter().map(|&b| u64::from(b)).sum()
}

/// A task message several times a pipe's size, taken by a worker as its next task while it
/// runs one that times out, is sent whole to the replacement: the kill catches it half
/// written, and none of it may be lost or sent twice.
fn big_task_behind_a_timeout(method: StartMethod) {
    let pool = pool(method, 1);
    // Both tasks below are queued while this one runs, so that the worker takes the hung
    // task and the big one in the same turn.
    let first = pool.submit(common::sleep_then_pid, 400);
    let hung = pool.submit_with_timeout(loops_forever, 0, Duration::from_millis(300));
    let big = pool.submit(byte_sum, vec![3u8; 4 << 20]);
    assert!(first.join().is_ok());
    assert_eq!(hung.join(), Err(TaskError::TimedOut));
    assert_eq!(big.join(), Ok(3 * (4 << 20)));
    assert_eq!(pool.metrics().timeouts, 1);
    assert_eq!(pool.metrics().worker_deaths, 0);
}

fn main() {
    braid_procpool::init();
    let mut checks = Checks::new();
    for method in METHODS {
        for failure in FAILURES {
            checks.run(&format!("{method:?}: {}", failure.name), || {
                check_failure(&|| pool(method, 2), failure)
            });
        }
        checks.run(
            &format!("{method:?}: an idle worker killed from outside"),
            || idle_worker_killed(method),
        );
        // Only Linux tells the pool how much of a dead worker's pipe went unread.
        if cfg!(target_os = "linux") {
            checks.run(
                &format!("{method:?}: a big task for an idle worker that dies is sent again whole"),
                || big_task_to_an_idle_worker_that_dies(method),
            );
        }
        checks.run(
            &format!("{method:?}: a big task behind a timeout is sent again whole"),
            || big_task_behind_a_timeout(method),
        );
        checks.run(
            &format!("{method:?}: a crash in a map chunk fails only that chunk"),
            || {
                let pool = pool(method, 2);
                fn crash_on_13(x: u64) -> u64 {
                    if x == 13 {
                        std::process::exit(3);
                    }
                    x + 1
                }
                let results: Vec<_> = pool.map(crash_on_13, 0..40, 5).collect();
                for (i, r) in results.iter().enumerate() {
                    if (10..15).contains(&i) {
                        assert!(matches!(r, Err(e) if e.is_worker_died()), "item {i}: {r:?}");
                    } else {
                        assert_eq!(*r, Ok(i as u64 + 1), "item {i}");
                    }
                }
            },
        );
    }
    // Workers started by a command, over TCP: the same matrix.
    for failure in FAILURES {
        checks.run(&format!("command launcher: {}", failure.name), || {
            check_failure(&command_pool, failure)
        });
    }
    checks.finish();
}

/// Two workers started through `sh`, which `exec`s into the worker.
fn command_pool() -> ProcessPool {
    ProcessPool::builder()
        .workers(2)
        .launcher(braid_procpool::Launcher::command(
            "sh",
            ["-c", "exec \"$BRAID_PROCPOOL_EXE\""],
        ))
        .build()
        .expect("pool starts")
}
