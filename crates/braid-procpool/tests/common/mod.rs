//! A tiny harness for test programs whose `main` must call `braid_procpool::init()` first.

#![allow(dead_code)]

pub mod matrix;

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use braid_procpool::{ProcessPool, StartMethod};

pub const METHODS: [StartMethod; 3] = [
    StartMethod::Spawn,
    StartMethod::Fork,
    StartMethod::ForkServer,
];

/// A pool of `workers` started with `method`.
pub fn pool(method: StartMethod, workers: usize) -> ProcessPool {
    ProcessPool::builder()
        .workers(workers)
        .start_method(method)
        .build()
        .expect("pool starts")
}

/// Runs named checks, prints one line each and a final `N passed, M failed`, and exits
/// non-zero on any failure.
#[derive(Default)]
pub struct Checks {
    passed: usize,
    failed: Vec<String>,
    filter: Option<String>,
}

impl Checks {
    pub fn new() -> Checks {
        let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        Checks {
            filter,
            ..Checks::default()
        }
    }

    pub fn run(&mut self, name: &str, check: impl FnOnce()) {
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        let started = Instant::now();
        match panic::catch_unwind(AssertUnwindSafe(check)) {
            Ok(()) => {
                self.passed += 1;
                println!("ok    {name} ({:?})", started.elapsed());
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("FAIL  {name}: {message}");
                self.failed.push(name.to_owned());
            }
        }
    }

    pub fn finish(self) -> ! {
        println!("{} passed, {} failed", self.passed, self.failed.len());
        if !self.failed.is_empty() {
            println!("failed: {}", self.failed.join(", "));
            std::process::exit(1);
        }
        std::process::exit(0);
    }
}

/// Waits until `condition` holds; panics after a generous hang guard.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A path no other check uses.
pub fn marker_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "braid-procpool-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A directory of stand-in programs for one check (a fake `srun` or `scontrol`), removed
/// when dropped: keep it alive as long as anything may run them.
pub struct StandIns {
    dir: PathBuf,
}

impl StandIns {
    pub fn new() -> StandIns {
        let dir = marker_path();
        std::fs::create_dir_all(&dir).unwrap();
        StandIns { dir }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes the executable script `name` with `text`; returns its path.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates the file at `path`, then sleeps `millis`: a task whose start the test can see.
pub fn mark_then_sleep((path, millis): (String, u64)) -> u32 {
    std::fs::write(&path, b"started").unwrap();
    std::thread::sleep(Duration::from_millis(millis));
    std::process::id()
}

pub fn wait_for_marker(path: &std::path::Path) {
    eventually("the task to start", || path.exists());
    let _ = std::fs::remove_file(path);
}

pub fn double(x: u64) -> u64 {
    x * 2
}

pub fn pid(_: ()) -> u32 {
    std::process::id()
}

pub fn sleep_then_pid(millis: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(millis));
    std::process::id()
}

/// Whether a process is gone (or only a zombie waiting for a reaper that is not ours).
pub fn process_gone(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        return state == Some("Z") || state == Some("X");
    }
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) != 0 }
}

/// Whether this process has no child left, not even a zombie.
pub fn no_children() -> bool {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let res = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    res == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}
