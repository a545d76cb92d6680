//! Idle workers sleep each on a CPU of their own, and run on all their CPUs again once awake
//! (`src/home.rs`). Linux only: elsewhere a worker sleeps wherever it is.

#![cfg(target_os = "linux")]

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use braid_threadpool::ThreadPool;

/// How long the workers get to fall asleep: they do within microseconds of running out of work.
const FALL_ASLEEP: Duration = Duration::from_secs(20);

/// The CPUs thread `tid` of this process may run on, as the kernel reports them.
fn cpus_of(tid: libc::pid_t) -> Vec<usize> {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("a Cpus_allowed_list line")
        .trim();
    let mut cpus = Vec::new();
    for range in list.split(',') {
        match range.split_once('-') {
            Some((first, last)) => {
                cpus.extend(first.parse::<usize>().unwrap()..=last.parse::<usize>().unwrap())
            }
            None => cpus.push(range.parse().unwrap()),
        }
    }
    cpus
}

/// Whether thread `tid` is blocked (state `S`), not running or runnable.
fn is_asleep(tid: libc::pid_t) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // The state follows the command name, which is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    after_name.trim_start().starts_with('S')
}

/// The CPUs this process may use; the tests need two to tell homes apart.
fn process_cpus() -> Vec<usize> {
    let cpus = braid_sys::cpu::allowed().unwrap();
    assert!(
        cpus.len() >= 2,
        "these tests need two CPUs, and this process may use only {cpus:?}"
    );
    cpus
}

/// A pool of `workers` that records each worker's thread id, after running `hook` on it.
fn recording_pool(
    workers: usize,
    hook: impl Fn(usize) + Send + Sync + 'static,
) -> (ThreadPool, Vec<libc::pid_t>) {
    let tids = Arc::new(Mutex::new(vec![0; workers]));
    let recorded = tids.clone();
    let pool = ThreadPool::builder()
        .workers(workers)
        .on_thread_start(move |index| {
            hook(index);
            // SAFETY: `gettid` has no preconditions.
            recorded.lock().unwrap()[index] = unsafe { libc::gettid() };
        })
        .build()
        .unwrap();
    common::wait_for(|| tids.lock().unwrap().iter().all(|&tid| tid != 0));
    let tids = tids.lock().unwrap().clone();
    (pool, tids)
}

/// Waits until every worker in `tids` sleeps with a mask that `settled` accepts, and returns
/// those masks; fails the test, saying what it saw, if that does not happen in time.
fn masks_once_asleep(
    tids: &[libc::pid_t],
    settled: impl Fn(&[Vec<usize>]) -> bool,
) -> Vec<Vec<usize>> {
    let start = Instant::now();
    loop {
        let masks: Vec<Vec<usize>> = tids.iter().map(|&tid| cpus_of(tid)).collect();
        if tids.iter().all(|&tid| is_asleep(tid)) && settled(&masks) {
            return masks;
        }
        assert!(
            start.elapsed() < FALL_ASLEEP,
            "the idle workers never settled; their CPUs: {masks:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn two_idle_workers_sleep_on_two_different_cpus() {
    let cpus = process_cpus();
    let (pool, tids) = recording_pool(2, |_| ());
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
    let masks = masks_once_asleep(&tids, |masks| masks.iter().all(|mask| mask.len() == 1));
    let (first, second) = (masks[0][0], masks[1][0]);
    assert_ne!(first, second, "both workers sleep on CPU {first}");
    assert!(
        cpus.contains(&first) && cpus.contains(&second),
        "homes {first} and {second} outside the process's CPUs {cpus:?}"
    );
}

#[test]
fn a_woken_worker_runs_on_all_its_cpus_again() {
    let cpus = process_cpus();
    let (pool, tids) = recording_pool(2, |_| ());
    masks_once_asleep(&tids, |masks| masks.iter().all(|mask| mask.len() == 1));

    let allowed = || braid_sys::cpu::allowed().unwrap();
    assert_eq!(pool.submit(allowed).join().unwrap(), cpus);
    // A `join` from outside wakes one worker, and its first half wakes the other.
    masks_once_asleep(&tids, |masks| masks.iter().all(|mask| mask.len() == 1));
    let (a, b) = pool.join(allowed, allowed);
    assert_eq!((a, b), (cpus.clone(), cpus.clone()));
    // Tasks that find the workers awake, too.
    let handles: Vec<_> = (0..100).map(|_| pool.submit(allowed)).collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), cpus);
    }
}

#[test]
fn workers_pinned_by_their_start_hook_keep_their_cpu_asleep_and_awake() {
    let cpus = process_cpus();
    // Both workers on one CPU: their homes differ, so one of them would move if the pool
    // narrowed a mask of one CPU, whichever homes this pool got.
    let chosen: Vec<usize> = vec![cpus[1], cpus[1]];
    let hook_cpus = chosen.clone();
    let (pool, tids) = recording_pool(2, move |index| {
        braid_sys::cpu::pin(0, hook_cpus[index]).unwrap();
    });
    let masks = masks_once_asleep(&tids, |_| true);
    assert_eq!(masks, vec![vec![chosen[0]], vec![chosen[1]]]);

    // Awake, each still runs on its own CPU only.
    let report = || {
        // SAFETY: `gettid` has no preconditions.
        let tid = unsafe { libc::gettid() };
        (tid, braid_sys::cpu::allowed().unwrap())
    };
    let handles: Vec<_> = (0..100).map(|_| pool.submit(report)).collect();
    for handle in handles {
        let (tid, mask) = handle.join().unwrap();
        let index = tids
            .iter()
            .position(|&t| t == tid)
            .expect("a worker ran it");
        assert_eq!(mask, vec![chosen[index]], "worker {index}");
    }
}
