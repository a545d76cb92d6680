//! Every way a task can fail, under every start method: the task gets the matching error,
//! other tasks are untouched, a dead worker is replaced, and the pool keeps serving.

mod common;

use std::time::Duration;

use braid_procpool::{ProcessPool, StartMethod, TaskError};
use common::matrix::{check_failure, loops_forever, FAILURES};
use common::{double, eventually, pool, Checks, METHODS};

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
