//! `StartMethod::Fork` in a parent with other threads: every worker, the replacements too,
//! is forked from a single-threaded template process made at `build()`, so a parent thread
//! that holds a lock when a worker is replaced (std's stdout or stderr lock, taken by a
//! thread that prints without pause) cannot leave that lock held in the new worker. Also:
//! where workers come from, what memory they see, and that the template ends with the pool.
//!
//! The printing runs in a second copy of this program whose output goes to `/dev/null`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use braid_procpool::{ProcessPool, StartMethod};
use common::{eventually, marker_path, no_children, process_gone, Checks};

/// Runs [`busy_parent`] in this process: `BUSY_PARENT <stdout|stderr> <report file>`.
const BUSY_PARENT: &str = "--busy-parent";
/// Runs [`template_helper`] in this process.
const TEMPLATE_HELPER: &str = "--template-helper";
/// Tasks run one after another, each in a new worker.
const TASKS: u32 = 40;

fn log_to_stdout(i: u32) -> u32 {
    println!("task {i}");
    i
}

fn log_to_stderr(i: u32) -> u32 {
    eprintln!("task {i}");
    i
}

/// The body of the busy parent: a thread prints to `stream` without pause while a Fork pool
/// whose workers each run one task runs [`TASKS`] tasks that print to the same stream, one
/// after another. Writes how many finished to `report`; exits 0 if all did.
fn busy_parent(stream: &str, report: &Path) -> ! {
    let to_stderr = match stream {
        "stdout" => false,
        "stderr" => true,
        other => panic!("no stream {other:?}"),
    };
    static PRINTED: AtomicU64 = AtomicU64::new(0);
    std::thread::spawn(move || loop {
        let n = PRINTED.fetch_add(1, Ordering::Relaxed);
        // A long formatted line keeps the lock held for most of each turn.
        if to_stderr {
            eprintln!("{n:>200}");
        } else {
            println!("{n:>200}");
        }
    });
    eventually("the printing thread to start", || {
        PRINTED.load(Ordering::Relaxed) > 100
    });
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(StartMethod::Fork)
        .max_tasks_per_child(1)
        .build()
        .expect("pool starts");
    let task = if to_stderr {
        log_to_stderr
    } else {
        log_to_stdout
    };
    for i in 0..TASKS {
        match pool.submit(task, i).join_timeout(Duration::from_secs(30)) {
            Some(Ok(got)) if got == i => std::fs::write(report, format!("{}", i + 1)).unwrap(),
            Some(other) => {
                std::fs::write(report, format!("task {i} yielded {other:?}")).unwrap();
                std::process::exit(1);
            }
            None => {
                std::fs::write(report, format!("task {i} did not finish within 30 s")).unwrap();
                // Not a drop of the pool, which would wait for the stuck worker.
                std::process::exit(2);
            }
        }
    }
    drop(pool);
    std::process::exit(0)
}

/// Runs [`busy_parent`] in a copy of this program and checks that every task finished.
fn printing_thread_leaves_no_lock_held(stream: &str) {
    let report = marker_path();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([BUSY_PARENT, stream, report.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Far beyond what 40 short tasks need, far below forever.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = std::fs::read_to_string(&report).unwrap_or_else(|_| "0".into());
    let _ = std::fs::remove_file(&report);
    match status {
        Some(status) if status.success() => assert_eq!(said, TASKS.to_string()),
        Some(status) => panic!("the busy parent failed ({status}): {said}"),
        None => panic!("the busy parent hung; tasks finished: {said}"),
    }
}

/// The pid of the process that forked the worker running this task, and the worker's own.
fn parent_and_self(_: ()) -> (u32, u32) {
    (std::os::unix::process::parent_id(), std::process::id())
}

/// Every replacement has one parent: a process of its own, the template, not the pool's,
/// which ends when the pool is dropped. Of the first workers, forked at build, the pool's
/// process forks at most half itself, beside the template.
fn replacements_come_from_one_template() {
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(StartMethod::Fork)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let seen: Vec<(u32, u32)> = (0..6)
        .map(|_| pool.submit(parent_and_self, ()).join().unwrap())
        .collect();
    let me = std::process::id();
    let forked_here = seen.iter().filter(|&&(parent, _)| parent == me).count();
    assert!(
        forked_here <= 1,
        "more than half of the first workers were forked from the pool's own process: {seen:?}"
    );
    let templates: Vec<u32> = seen
        .iter()
        .map(|&(parent, _)| parent)
        .filter(|&parent| parent != me)
        .collect();
    let template = templates[0];
    assert!(
        templates.iter().all(|&parent| parent == template),
        "workers have different parents: {seen:?}"
    );
    let mut workers: Vec<u32> = seen.iter().map(|&(_, pid)| pid).collect();
    workers.sort_unstable();
    workers.dedup();
    assert_eq!(workers.len(), 6, "each task ran in a new worker: {seen:?}");
    assert!(!process_gone(template), "the template lives with the pool");
    drop(pool);
    assert!(process_gone(template), "the template outlived its pool");
    assert!(no_children(), "a worker or the template was left unreaped");
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

fn generation(_: ()) -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// A worker sees the parent's memory as it was at `build()`: a replacement started after the
/// parent changed a value still finds the old one.
fn workers_see_memory_as_at_build() {
    GENERATION.store(1, Ordering::Relaxed);
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(StartMethod::Fork)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    GENERATION.store(2, Ordering::Relaxed);
    let seen: Vec<u64> = (0..3)
        .map(|_| pool.submit(generation, ()).join().unwrap())
        .collect();
    assert_eq!(seen, [1, 1, 1], "the later replacements saw a later parent");
    assert!(pool.metrics().respawns >= 2);
}

/// The body run by `killed_parent_leaves_no_template`: prints the template's pid and a
/// worker's, then sleeps until killed.
fn template_helper() -> ! {
    let pool = common::pool(StartMethod::Fork, 1);
    let (template, worker) = pool.submit(parent_and_self, ()).join().unwrap();
    println!("{template} {worker}");
    // Keep the worker busy, so that killing the parent meets a running task too.
    let _busy = pool.submit(common::sleep_then_pid, 60_000);
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(0);
}

/// Killing the pool's process ends the template and its workers.
fn killed_parent_leaves_no_template() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .arg(TEMPLATE_HELPER)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(helper.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "helper printed {line:?}");
    assert_ne!(
        pids[0],
        helper.id(),
        "the worker was forked from the pool's process"
    );
    assert!(pids.iter().all(|&p| !process_gone(p)));
    helper.kill().unwrap();
    helper.wait().unwrap();
    eventually("the template and its worker to end", || {
        pids.iter().all(|&p| process_gone(p))
    });
}

fn main() {
    braid_procpool::init();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(BUSY_PARENT) => busy_parent(&args[2], Path::new(&args[3])),
        Some(TEMPLATE_HELPER) => template_helper(),
        _ => {}
    }
    let mut checks = Checks::new();
    checks.run(
        "a thread printing to stdout leaves no lock held in replacements",
        || printing_thread_leaves_no_lock_held("stdout"),
    );
    checks.run(
        "a thread printing to stderr leaves no lock held in replacements",
        || printing_thread_leaves_no_lock_held("stderr"),
    );
    checks.run(
        "replacements come from one template that ends with the pool",
        replacements_come_from_one_template,
    );
    checks.run(
        "workers see the parent's memory as it was at build",
        workers_see_memory_as_at_build,
    );
    checks.run(
        "a killed parent leaves no template",
        killed_parent_leaves_no_template,
    );
    checks.finish();
}
