//! Worker starts and worker ends: a worker that fails to start is retried until one starts,
//! and workers end when the program that owns the pool dies.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use braid_procpool::{ProcessPool, StartMethod, TaskError};
use common::{double, eventually, marker_path, pid, process_gone, Checks, METHODS};

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
    let logged_before = log.text().len();
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
    let mut queued = pool.submit(double, 1);
    assert!(first.join().is_ok());
    let is_refusal =
        |e: &TaskError| matches!(e, TaskError::WorkerStart(m) if m.contains("refusing to start"));
    match queued.join_timeout(Duration::from_secs(60)) {
        Some(Err(e)) if is_refusal(&e) => {}
        Some(other) => panic!("the queued task got {other:?}"),
        None => panic!("the queued task waited for a worker that cannot start"),
    }
    // Three failures in a row used to give the slot up for good.
    eventually("five failed starts", || pool.metrics().start_failures >= 5);
    match pool.submit(double, 2).join_timeout(Duration::from_secs(60)) {
        Some(Err(e)) if is_refusal(&e) => {}
        Some(other) => panic!("a task submitted while no worker can start got {other:?}"),
        None => panic!("a task submitted while no worker can start waited"),
    }
    let warnings = log.text().split_off(logged_before);
    assert!(
        warnings.contains("WARN") && warnings.contains("refusing to start"),
        "no warning names the reason: {warnings:?}"
    );
    std::fs::remove_file(&refuse).unwrap();
    eventually("the pool to take work again", || {
        matches!(
            pool.submit(double, 3).join_timeout(Duration::from_secs(30)),
            Some(Ok(6))
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

/// Turns off the system's death signal in the pool processes of a program started with it,
/// leaving the portable watch of the parent.
const NO_DEATH_SIGNAL_ENV: &str = "BRAID_PROCPOOL_NO_DEATH_SIGNAL";

/// The signal the system sends this process when its parent dies (0 for none); `None`
/// where the system has no such setting.
fn death_signal() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        let mut signal: libc::c_int = 0;
        // SAFETY: PR_GET_PDEATHSIG writes one int through the pointer, which is valid.
        let got = unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut signal as *mut libc::c_int) };
        assert_eq!(got, 0, "{}", std::io::Error::last_os_error());
        Some(signal)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Prints `pid parent-pid death-signal` of the worker that runs it, then sleeps for minutes.
fn announce_then_sleep(_: ()) {
    let signal = death_signal().map_or("none".to_string(), |s| s.to_string());
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    println!("{} {parent} {signal}", std::process::id());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// The program `owner_dies` kills: a pool with one worker busy in a long task, which prints
/// its pid.
fn pool_owner(method: &str) -> ! {
    let method = METHODS
        .into_iter()
        .find(|m| format!("{m:?}") == method)
        .expect("a start method");
    let pool = common::pool(method, 1);
    let _busy = pool.submit(announce_then_sleep, ());
    std::thread::sleep(Duration::from_secs(600));
    std::process::exit(0);
}

/// The program that owns the pool, killed however the check ends.
struct Owner(Child);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A program that owns a pool is killed with `SIGKILL` while a worker runs a long task: the
/// worker, and for `Fork` and `ForkServer` the server, end within a generous deadline. With
/// `death_signal` false the system's death signal is off, and the portable watch must do it.
fn owner_dies(method: StartMethod, death_signal: bool) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--pool-owner", &format!("{method:?}")])
        .stdout(Stdio::piped());
    if death_signal {
        command.env_remove(NO_DEATH_SIGNAL_ENV);
    } else {
        command.env(NO_DEATH_SIGNAL_ENV, "1");
    }
    let mut owner = Owner(command.spawn().unwrap());
    let owner = &mut owner.0;
    let mut line = String::new();
    BufReader::new(owner.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "the worker printed {line:?}");
    let worker: u32 = fields[0].parse().unwrap();
    let parent: u32 = fields[1].parse().unwrap();
    if cfg!(target_os = "linux") {
        let expected = if death_signal { libc::SIGKILL } else { 0 };
        assert_eq!(
            fields[2],
            expected.to_string(),
            "the worker's death signal is not as asked"
        );
    }
    // Fork and ForkServer workers are children of a server process (for Fork, the
    // template forked at build); Spawn workers are the owner's own.
    let served = matches!(method, StartMethod::ForkServer | StartMethod::Fork);
    if served {
        assert_ne!(parent, owner.id(), "the server is the parent");
    } else {
        assert_eq!(parent, owner.id());
    }
    assert!(
        !process_gone(worker),
        "the worker runs while its owner lives"
    );
    owner.kill().unwrap();
    owner.wait().unwrap();
    // The server must end too; any other parent was the owner, already reaped.
    let mut left = vec![worker];
    if served {
        left.push(parent);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !left.iter().all(|&pid| process_gone(pid)) {
        if Instant::now() > deadline {
            for &pid in &left {
                // SAFETY: kill has no memory-safety preconditions; these pids still run.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            panic!("worker {worker} (parent {parent}) outlived its pool's program by 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    braid_procpool::init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--pool-owner") {
        pool_owner(&args[2]);
    }
    let log = Capture::default();
    log.install();
    let mut checks = Checks::new();
    for method in METHODS {
        let name = |what: &str| format!("{method:?}: {what}");
        checks.run(
            &name("failed starts are retried until one succeeds"),
            || failed_starts_are_retried(method, &log),
        );
        checks.run(
            &name("workers end with the pool's program, without a death signal"),
            || owner_dies(method, false),
        );
        checks.run(
            &name("workers end with the pool's program, with the death signal"),
            || owner_dies(method, true),
        );
    }
    checks.finish();
}
