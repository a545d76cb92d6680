//! The pool's life: start-up errors, worker recycling, cancellation, the three shutdowns,
//! maps, futures, a killed parent, and many pools that leak nothing.

mod common;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use braid_procpool::{ProcessPool, Shutdown, StartMethod, TaskError};
use common::{
    double, eventually, mark_then_sleep, marker_path, no_children, pid, pool, process_gone,
    wait_for_marker, Checks, METHODS,
};

fn failing_initializer() {
    panic!("the initializer cannot find its config")
}

fn initializer_failure(method: StartMethod) {
    let err = ProcessPool::builder()
        .workers(2)
        .start_method(method)
        .initializer(failing_initializer)
        .build()
        .expect_err("a failing initializer must fail build");
    assert!(err.is_worker_start(), "{err:?}");
    assert!(
        err.to_string()
            .contains("the initializer cannot find its config"),
        "{err}"
    );
}

fn exiting_initializer() {
    std::process::exit(5)
}

/// A worker that dies before it is ready: build names how it ended and the likely cause.
fn initializer_exits(method: StartMethod) {
    let err = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .initializer(exiting_initializer)
        .build()
        .expect_err("a worker that exits while starting must fail build");
    assert!(err.is_worker_start(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("ended (exit code 5) before it was ready"),
        "{message}"
    );
    assert!(message.contains("braid_procpool::init()"), "{message}");
}

static INITIALIZED: AtomicUsize = AtomicUsize::new(0);

fn count_initializer() {
    INITIALIZED.store(41, Ordering::Relaxed);
}

fn read_initialized(_: ()) -> usize {
    INITIALIZED.load(Ordering::Relaxed) + 1
}

fn initializer_runs(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .initializer(count_initializer)
        .build()
        .unwrap();
    assert_eq!(pool.submit(read_initialized, ()).join(), Ok(42));
}

fn max_tasks_per_child(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit(pid, ()).join().unwrap())
        .collect();
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pids[2], pids[3]);
    assert_ne!(pids[3], pids[4]);
    assert!(pids.iter().all(|&p| p != std::process::id()));
    assert!(pool.metrics().respawns >= 2);
    assert_eq!(pool.metrics().worker_deaths, 0);
}

fn cancel(method: StartMethod) {
    let pool = pool(method, 1);
    let marker = marker_path();
    let running = pool.submit(
        mark_then_sleep,
        (marker.to_string_lossy().into_owned(), 300),
    );
    // The worker may take this one into its pipe ahead of time; then it counts as started.
    let next = pool.submit(double, 3);
    let queued = pool.submit(double, 4);
    let kept = pool.submit(double, 5);
    wait_for_marker(&marker);
    assert!(!running.cancel(), "a running task cannot be cancelled");
    assert!(queued.cancel(), "a queued task can be cancelled");
    assert!(!queued.cancel(), "a second cancel finds it already done");
    assert!(queued.is_finished());
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    assert!(running.join().is_ok());
    assert_eq!(next.join(), Ok(6));
    assert_eq!(kept.join(), Ok(10));
    assert_eq!(pool.metrics().tasks_done, 3, "the cancelled task never ran");
}

fn shutdown_wait(method: StartMethod) {
    let pool = pool(method, 2);
    let handles: Vec<_> = (0..6)
        .map(|_| pool.submit(common::sleep_then_pid, 30))
        .collect();
    pool.shutdown(Shutdown::Wait);
    for h in handles {
        assert!(h.join().is_ok(), "Wait runs every submitted task");
    }
    assert_eq!(pool.submit(double, 1).join(), Err(TaskError::ShutDown));
    assert_eq!(pool.metrics().workers, 0);
}

fn shutdown_cancel_pending(method: StartMethod) {
    let pool = pool(method, 1);
    let marker = marker_path();
    let running = pool.submit(
        mark_then_sleep,
        (marker.to_string_lossy().into_owned(), 200),
    );
    // Possibly already in the worker's pipe, which counts as started.
    let next = pool.submit(double, 7);
    let queued: Vec<_> = (0..3).map(|i| pool.submit(double, i)).collect();
    wait_for_marker(&marker);
    pool.shutdown(Shutdown::CancelPending);
    assert!(running.join().is_ok(), "the running task finishes");
    let next = next.join();
    assert!(
        next == Ok(14) || next == Err(TaskError::Cancelled),
        "{next:?}"
    );
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
    }
}

fn shutdown_kill(method: StartMethod) {
    let pool = pool(method, 1);
    let marker = marker_path();
    let running = pool.submit(
        mark_then_sleep,
        (marker.to_string_lossy().into_owned(), 60_000),
    );
    let next = pool.submit(double, 7);
    let queued = pool.submit(double, 1);
    wait_for_marker(&marker);
    pool.shutdown(Shutdown::Kill);
    assert_eq!(running.join(), Err(TaskError::ShutDown));
    let next = next.join();
    assert!(
        next == Err(TaskError::ShutDown) || next == Err(TaskError::Cancelled),
        "{next:?}"
    );
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    // A second shutdown only waits, and dropping afterwards is fine.
    pool.shutdown(Shutdown::Wait);
}

fn maps(method: StartMethod) {
    let pool = pool(method, 2);
    for chunksize in [0, 1, 7, 1000] {
        let ordered: Vec<u64> = pool
            .map(double, 0..500u64, chunksize)
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            ordered,
            (0..500).map(|x| x * 2).collect::<Vec<_>>(),
            "chunksize {chunksize}"
        );
        let mut unordered: Vec<u64> = pool
            .imap_unordered(double, 0..500u64, chunksize)
            .map(Result::unwrap)
            .collect();
        unordered.sort_unstable();
        assert_eq!(unordered, ordered);
    }
    assert_eq!(pool.map(double, Vec::<u64>::new(), 3).count(), 0);
    // Lazy: an endless input is fine as long as the consumer stops.
    let first: Vec<u64> = pool
        .map(double, 0u64.., 16)
        .take(100)
        .map(Result::unwrap)
        .collect();
    assert_eq!(first.len(), 100);
    assert_eq!(first[99], 198);
}

fn reversed(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.reverse();
    bytes
}

/// An argument and a result several times the size of a pipe's buffer arrive whole: the
/// supervisor finishes writing the one as the pipe drains and gathers the other over many
/// reads.
fn values_bigger_than_a_pipe(method: StartMethod) {
    let pool = pool(method, 2);
    let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    let handles: Vec<_> = (0..3)
        .map(|_| pool.submit(reversed, bytes.clone()))
        .collect();
    let mut expected = bytes;
    expected.reverse();
    for handle in handles {
        assert!(
            handle.join().as_ref() == Ok(&expected),
            "a value was garbled"
        );
    }
    assert_eq!(pool.submit(double, 4).join(), Ok(8));
}

/// Dropping a map part-way stops its input there, leaves no handle or worker waiting on it,
/// and the pool keeps serving.
fn dropped_map(method: StartMethod) {
    let pool = pool(method, 1);
    let items = 200;
    let mut results = pool.map(common::sleep_then_pid, std::iter::repeat(5).take(items), 1);
    assert!(results.next().expect("a first result").is_ok());
    drop(results);
    assert_eq!(pool.submit(double, 4).join(), Ok(8));
    pool.shutdown(Shutdown::Wait);
    let done = pool.metrics().tasks_done;
    assert!(
        done < items as u64,
        "{done} tasks ran: the dropped map kept sending its input"
    );
}

#[derive(Debug, serde::Deserialize)]
struct MaybeEncodable(u64);

impl serde::Serialize for MaybeEncodable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 3 {
            return Err(serde::ser::Error::custom("three is unencodable"));
        }
        s.serialize_u64(self.0)
    }
}

fn plus_one(x: MaybeEncodable) -> u64 {
    x.0 + 1
}

fn map_encode_failure(method: StartMethod) {
    let pool = pool(method, 2);
    let results: Vec<_> = pool.map(plus_one, (0..8).map(MaybeEncodable), 4).collect();
    for (i, r) in results.iter().enumerate() {
        if i == 3 {
            assert!(matches!(r, Err(TaskError::Encode(_))), "{r:?}");
        } else {
            assert_eq!(*r, Ok(i as u64 + 1));
        }
    }
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn future_wakes(method: StartMethod) {
    let pool = pool(method, 1);
    let wakes = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut handle = pin!(pool.submit(common::sleep_then_pid, 100));
    // The first poll cannot be ready: the task sleeps; polling does not block.
    assert!(handle.as_mut().poll(&mut cx).is_pending());
    eventually("the waker to be woken", || {
        wakes.0.load(Ordering::SeqCst) > 0
    });
    match handle.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(pid)) => assert_ne!(pid, std::process::id()),
        other => panic!("expected a result after the wake, got {other:?}"),
    }
}

fn awaited_on_the_event_loop(method: StartMethod) {
    let pool = pool(method, 1);
    let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let result = braid_executor::run(async {
        let counter = ticks.clone();
        let ticker = braid_executor::spawn(async move {
            loop {
                braid_executor::sleep(Duration::from_millis(2)).await;
                counter.set(counter.get() + 1);
            }
        });
        let result = pool.submit(common::sleep_then_pid, 200).await;
        ticker.cancel();
        result
    });
    assert!(result.is_ok(), "{result:?}");
    assert!(
        ticks.get() > 0,
        "the loop kept running other tasks while the handle was awaited"
    );
}

/// Returns `x` once the file at `path` exists: a task the test releases when it likes.
fn wait_for_file((path, x): (String, u64)) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::path::Path::new(&path).exists() {
        assert!(std::time::Instant::now() < deadline, "never released");
        std::thread::sleep(Duration::from_millis(1));
    }
    x
}

/// The same steps as the thread pool's handle test: the two handles agree.
fn the_handles_sequence(method: StartMethod) {
    let pool = pool(method, 1);
    let release = marker_path();
    let mut blocker = pool.submit(wait_for_file, (release.to_string_lossy().into_owned(), 42));
    // With one worker and three tasks, the worker holds at most two: `queued` stays queued.
    let ahead = pool.submit(double, 1);
    let queued = pool.submit(double, 2);
    assert_eq!(blocker.join_timeout(Duration::from_millis(10)), None);
    assert!(!blocker.is_finished(), "still usable and still running");
    assert!(
        queued.cancel(),
        "a task not yet sent to a worker can be cancelled"
    );
    std::fs::write(&release, b"go").unwrap();
    assert_eq!(blocker.join_timeout(Duration::from_secs(60)), Some(Ok(42)));
    assert!(blocker.is_finished());
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    assert!(!blocker.cancel(), "a finished task cannot be cancelled");
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        blocker.join_timeout(Duration::ZERO)
    }));
    let payload = again.expect_err("a second take panics");
    let message = braid_threadpool::panic_message(&*payload).unwrap_or_default();
    assert!(message.contains("already taken"), "{message}");
    assert_eq!(ahead.join(), Ok(2));
    let _ = std::fs::remove_file(&release);
}

/// The thread pool's `as_completed` takes these handles: each result comes with its handle's
/// position, in the order the test lets the tasks finish.
fn as_completed_names_each_input(method: StartMethod) {
    let pool = pool(method, 2);
    let releases = [marker_path(), marker_path()];
    let handles: Vec<_> = releases
        .iter()
        .zip([10, 20])
        .map(|(release, x)| pool.submit(wait_for_file, (release.to_string_lossy().into_owned(), x)))
        .collect();
    let mut completed = braid_threadpool::as_completed(handles);
    assert_eq!(completed.len(), 2);
    std::fs::write(&releases[1], b"go").unwrap();
    assert_eq!(completed.next(), Some((1, Ok(20))));
    std::fs::write(&releases[0], b"go").unwrap();
    assert_eq!(completed.next(), Some((0, Ok(10))));
    assert_eq!(completed.next(), None);
    for release in &releases {
        let _ = std::fs::remove_file(release);
    }
}

const REFUSE_ENV: &str = "BRAID_PROCPOOL_TEST_REFUSE_FILE";

/// Fails once the file named by `REFUSE_ENV` exists: only replacement workers fail.
fn refusing_initializer() {
    if let Some(path) = std::env::var_os(REFUSE_ENV) {
        if std::path::Path::new(&path).exists() {
            panic!("refusing to start");
        }
    }
}

fn replacements_that_cannot_start(method: StartMethod) {
    let refuse = marker_path();
    std::env::set_var(REFUSE_ENV, &refuse);
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .initializer(refusing_initializer)
        .build()
        .unwrap();
    std::fs::write(&refuse, b"").unwrap();
    fn crash(_: u64) -> u64 {
        std::process::exit(9)
    }
    let crashed = pool.submit(crash, 0);
    let stranded = pool.submit(double, 1);
    assert!(crashed.join().unwrap_err().is_worker_died());
    // No worker can take the queued task: it fails instead of waiting forever.
    let error = stranded.join().unwrap_err();
    assert!(
        matches!(&error, TaskError::WorkerStart(m) if m.contains("refusing to start")),
        "{error:?}"
    );
    assert!(matches!(
        pool.submit(double, 2).join(),
        Err(TaskError::WorkerStart(_))
    ));
    let _ = std::fs::remove_file(&refuse);
    std::env::remove_var(REFUSE_ENV);
}

fn bad_arguments() {
    let err = ProcessPool::new(0).expect_err("0 workers");
    assert!(err.is_invalid_setting(), "{err:?}");
    assert!(!err.is_os() && !err.is_worker_start() && !err.is_not_initialized());
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidInput
    );
    let err = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(0)
        .build()
        .expect_err("0 tasks");
    assert!(err.is_invalid_setting(), "{err:?}");
    let err = ProcessPool::builder()
        .task_timeout(Duration::ZERO)
        .build()
        .expect_err("zero timeout");
    assert!(err.is_invalid_setting(), "{err:?}");
}

/// The helper run by `killed_parent`: a pool whose worker pids it prints before sleeping.
fn orphan_helper(method: &str) -> ! {
    let method = METHODS
        .into_iter()
        .find(|m| format!("{m:?}") == method)
        .unwrap();
    let pool = pool(method, 2);
    let handles: Vec<_> = (0..2)
        .map(|_| pool.submit(common::sleep_then_pid, 300))
        .collect();
    let pids: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().unwrap().to_string())
        .collect();
    println!("{}", pids.join(" "));
    // Keep one worker busy, so that killing the parent meets a running task too.
    let _busy = pool.submit(common::sleep_then_pid, 60_000);
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(0);
}

fn killed_parent(method: StartMethod) {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--orphan-helper", &format!("{method:?}")])
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
    assert!(
        pids.iter().all(|&p| !process_gone(p)),
        "workers run while the parent lives"
    );
    helper.kill().unwrap();
    helper.wait().unwrap();
    eventually("every worker of the killed parent to end", || {
        pids.iter().all(|&p| process_gone(p))
    });
}

fn open_fds() -> usize {
    let dir = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    std::fs::read_dir(dir).unwrap().count()
}

fn hundred_pools_leak_nothing() {
    // A first pool warms up whatever the process opens once (the executable path, ...).
    drop(pool(StartMethod::Spawn, 1));
    let fds = open_fds();
    for i in 0..100 {
        let method = METHODS[i % METHODS.len()];
        let pool = pool(method, 2);
        assert_eq!(pool.submit(double, i as u64).join(), Ok(i as u64 * 2));
        if i % 10 == 0 {
            // Some pools end with a crashed worker being replaced.
            fn crash(_: u64) -> u64 {
                std::process::exit(7)
            }
            assert!(pool.submit(crash, 0).join().unwrap_err().is_worker_died());
        }
    }
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    assert!(no_children(), "a worker process or zombie was left behind");
}

/// The disposition of `SIGUSR2` in the process that runs this task.
fn usr2_disposition(_: u64) -> usize {
    let mut now = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads the current one into `now`.
    let read = unsafe { libc::sigaction(libc::SIGUSR2, std::ptr::null(), now.as_mut_ptr()) };
    assert_eq!(read, 0);
    // SAFETY: sigaction succeeded, so it filled `now`.
    unsafe { now.assume_init() }.sa_sigaction
}

/// Runs a child process on a braid loop in the worker, its exit watched through `SIGCHLD`.
fn child_watched_by_sigchld(_: u64) -> bool {
    braid_executor::run(async {
        braid_executor::process::Command::new("true")
            .watch_exit_with_sigchld()
            .status()
            .await
            .is_ok_and(|status| status.success())
    })
}

/// A worker starts with none of its parent's (or the fork server's) signal listeners: their
/// handler is gone, and the task's own listeners work.
fn workers_start_without_the_parents_signal_listeners(method: StartMethod) {
    let event_loop = braid_executor::EventLoop::new().unwrap();
    // The parent listens for SIGUSR2 while the pool makes its workers.
    let listener = event_loop.block_on(async { braid_executor::signal::signal(libc::SIGUSR2) });
    let listener = listener.unwrap();
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .build()
        .unwrap();
    assert_eq!(
        pool.submit(usr2_disposition, 0).join().unwrap(),
        libc::SIG_DFL,
        "the worker kept the parent's SIGUSR2 handler"
    );
    match pool
        .submit(child_watched_by_sigchld, 0)
        .join_timeout(Duration::from_secs(60))
    {
        Some(Ok(true)) => {}
        Some(other) => panic!("the task's child did not run: {other:?}"),
        None => panic!("the task's SIGCHLD listener was never woken in the worker"),
    }
    drop(pool);
    drop(listener);
}

/// `join` on a thread-pool worker waits for the process task alone: it does not run the
/// thread pool's other jobs meanwhile (one of which here waits for this very result).
fn join_on_a_thread_pool_worker_runs_nothing_else(method: StartMethod) {
    let procs = Arc::new(pool(method, 1));
    let threads = braid_threadpool::ThreadPool::new(1).unwrap();
    let (result_tx, result_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let joiner = {
        let procs = procs.clone();
        threads.submit(move || {
            let doubled = procs.submit(double, 21).join();
            result_tx.send(doubled).unwrap();
        })
    };
    // Queued behind the joiner; it ends only once the joiner's result is out.
    let queued = threads.submit(move || release_rx.recv_timeout(Duration::from_secs(60)).is_ok());
    let doubled = result_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("join ran the queued job nested instead of returning");
    assert_eq!(doubled, Ok(42));
    release_tx.send(()).unwrap();
    assert!(queued.join().unwrap());
    joiner.join().unwrap();
}

/// Which way `build` fails, or `'+'` when it succeeds, for each soft descriptor limit from
/// the lowest free descriptor up, until a pool starts: `'o'` for an operating-system error,
/// `'w'` for a worker that could not start.
fn build_failures_by_descriptor_limit(method: StartMethod) -> String {
    let mut saved = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `saved` is a valid out-pointer.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut saved) };
    assert_eq!(got, 0);
    // The descriptor a new file gets is the lowest free one.
    let lowest_free = std::os::fd::AsRawFd::as_raw_fd(&std::fs::File::open("/dev/null").unwrap());
    let mut seen = String::new();
    for extra in 0..64 {
        let lowered = libc::rlimit {
            rlim_cur: lowest_free as libc::rlim_t + extra,
            rlim_max: saved.rlim_max,
        };
        // SAFETY: a valid rlimit, below the hard limit.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) };
        assert_eq!(set, 0);
        let built = ProcessPool::builder()
            .workers(2)
            .start_method(method)
            .build();
        // SAFETY: as above; the limit this process had.
        let restored = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) };
        assert_eq!(restored, 0);
        match built {
            Ok(pool) => {
                drop(pool);
                seen.push('+');
                return seen;
            }
            Err(e) if e.is_os() => seen.push('o'),
            Err(e) if e.is_worker_start() => seen.push('w'),
            Err(e) => panic!("after {seen:?}: {e:?}"),
        }
    }
    panic!("no pool started with up to 64 descriptors free: {seen:?}")
}

/// A pool whose process runs out of descriptors while it makes its workers' pipes fails to
/// build as a worker that could not start, whatever the start method: `Fork` makes its
/// first workers' pipes before it forks the template, and one it could not make must go
/// the way of the others, asked for later, rather than fail the template itself.
fn out_of_descriptors_for_worker_pipes(method: StartMethod) {
    let seen = build_failures_by_descriptor_limit(method);
    assert!(
        seen.contains('w'),
        "no limit failed a worker's start, only the pool's own: {seen:?}"
    );
}

fn main() {
    braid_procpool::init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--orphan-helper") {
        orphan_helper(&args[2]);
    }
    let mut checks = Checks::new();
    checks.run("bad arguments are InvalidInput", bad_arguments);
    for method in METHODS {
        let name = |what: &str| format!("{method:?}: {what}");
        checks.run(&name("a failing initializer fails build"), || {
            initializer_failure(method)
        });
        checks.run(
            &name("running out of descriptors for workers' pipes fails their start"),
            || out_of_descriptors_for_worker_pipes(method),
        );
        checks.run(
            &name("a worker that exits while starting fails build"),
            || initializer_exits(method),
        );
        checks.run(&name("the initializer runs in each worker"), || {
            initializer_runs(method)
        });
        checks.run(&name("max_tasks_per_child replaces workers"), || {
            max_tasks_per_child(method)
        });
        checks.run(&name("cancel: queued yes, running no"), || cancel(method));
        checks.run(&name("shutdown Wait"), || shutdown_wait(method));
        checks.run(&name("shutdown CancelPending"), || {
            shutdown_cancel_pending(method)
        });
        checks.run(&name("shutdown Kill"), || shutdown_kill(method));
        checks.run(&name("map and imap_unordered"), || maps(method));
        checks.run(&name("values bigger than a pipe arrive whole"), || {
            values_bigger_than_a_pipe(method)
        });
        checks.run(&name("a dropped map leaves the pool serving"), || {
            dropped_map(method)
        });
        checks.run(&name("map item that fails to encode"), || {
            map_encode_failure(method)
        });
        checks.run(&name("a handle is a future that wakes"), || {
            future_wakes(method)
        });
        checks.run(
            &name("awaiting on braid-executor does not block the loop"),
            || awaited_on_the_event_loop(method),
        );
        checks.run(&name("the handle's sequence"), || {
            the_handles_sequence(method)
        });
        checks.run(&name("as_completed names each input"), || {
            as_completed_names_each_input(method)
        });
        checks.run(
            &name("replacements that cannot start fail queued tasks"),
            || replacements_that_cannot_start(method),
        );
        checks.run(&name("a killed parent leaves no worker"), || {
            killed_parent(method)
        });
        checks.run(
            &name("join on a thread-pool worker runs nothing else"),
            || join_on_a_thread_pool_worker_runs_nothing_else(method),
        );
        checks.run(
            &name("workers start without the parent's signal listeners"),
            || workers_start_without_the_parents_signal_listeners(method),
        );
    }
    checks.run(
        "100 pools leak no fd and no process",
        hundred_pools_leak_nothing,
    );
    checks.finish();
}
