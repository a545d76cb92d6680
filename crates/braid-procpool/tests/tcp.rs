//! Workers started by a command, over TCP: they run tasks like local workers, fail only their
//! own task when they die, and the listener admits nobody who does not know the pool's
//! secret, whatever a peer sends. The peers here are raw sockets of this test, speaking the
//! handshake as `protocol/auth.rs` lays it out, with their own HMAC.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use braid_procpool::__test::{corrupt_results, Corruption};
use braid_procpool::{Launcher, ProcessPool, Shutdown, TaskError};
use common::{double, eventually, marker_path, no_children, process_gone, Checks, StandIns};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const WORKER_CONTEXT: &[u8] = b"braid-procpool worker answers the parent's challenge";
const PARENT_CONTEXT: &[u8] = b"braid-procpool parent answers the worker's challenge";

/// `sh -c 'exec "$BRAID_PROCPOOL_EXE"'`: the launcher becomes the worker.
fn exec_launcher() -> Launcher {
    Launcher::command("sh", ["-c", "exec \"$BRAID_PROCPOOL_EXE\""])
}

/// A one-worker pool whose launcher is a shell that runs the worker with `script`.
fn shell_pool(script: &str) -> ProcessPool {
    ProcessPool::builder()
        .workers(1)
        .launcher(Launcher::command("sh", ["-c", script]))
        .build()
        .expect("pool starts")
}

fn tcp_pool(workers: usize) -> ProcessPool {
    ProcessPool::builder()
        .workers(workers)
        .launcher(exec_launcher())
        .build()
        .expect("pool starts")
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Connects to the pool and reads its greeting: the stream and the parent's nonce.
fn challenged(addr: SocketAddr) -> (TcpStream, [u8; 32]) {
    let mut stream = TcpStream::connect(addr).expect("the pool listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut hello = [0u8; 40];
    stream.read_exact(&mut hello).expect("a greeting");
    assert_eq!(&hello[..8], b"braidPP1");
    (stream, hello[8..].try_into().unwrap())
}

/// An answer to `nonce` as worker `id`, keyed with `key`, with the worker's own `nonce`.
fn answer(key: &[u8], nonce: &[u8; 32], id: u64, own: &[u8; 32]) -> Vec<u8> {
    let mut out = id.to_le_bytes().to_vec();
    out.extend(hmac(key, &[WORKER_CONTEXT, nonce, &id.to_le_bytes()]));
    out.extend(own);
    out
}

/// Whether the pool closed the connection without a word (not counting what it may have
/// sent before).
fn closed_by_pool(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn auth_failures_reach(pool: &ProcessPool, n: u64) {
    eventually(&format!("{n} refused connection(s) counted"), || {
        pool.metrics().auth_failures >= n
    });
    assert_eq!(pool.metrics().auth_failures, n);
}

fn loops_forever(_: u64) -> u64 {
    loop {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kills_itself(_: u64) -> u64 {
    // SAFETY: signalling our own pid.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL ends the process")
}

fn sends_a_bad_frame(x: u64) -> u64 {
    corrupt_results(Corruption::BadLength);
    x
}

/// Writes this worker's pid to `path`, then runs forever.
fn mark_pid_then_loop(path: String) -> u64 {
    std::fs::write(&path, std::process::id().to_string()).unwrap();
    loops_forever(0)
}

fn read_pid(path: &Path) -> u32 {
    eventually("the task to start", || {
        std::fs::read_to_string(path).is_ok_and(|s| !s.is_empty())
    });
    let pid = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let _ = std::fs::remove_file(path);
    pid
}

fn worker_pid(_: ()) -> u32 {
    std::process::id()
}

fn runs_tasks_and_maps() {
    let pool = tcp_pool(2);
    let addr = pool.listen_addr().expect("a listening pool");
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_eq!(pool.submit(double, 21).join(), Ok(42));
    let pid = pool.submit(worker_pid, ()).join().unwrap();
    assert_ne!(pid, std::process::id());
    let doubled: Vec<u64> = pool.map(double, 0..1000, 64).map(Result::unwrap).collect();
    assert_eq!(doubled, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    // A message bigger than a socket's buffer goes out in pieces.
    fn byte_sum(bytes: Vec<u8>) -> u64 {
        bytes.iter().map(|&b| u64::from(b)).sum()
    }
    let big = vec![1u8; 2 << 20];
    assert_eq!(pool.submit(byte_sum, big).join(), Ok(2 << 20));
    assert_eq!(pool.metrics().auth_failures, 0);
    assert_eq!(pool.metrics().workers, 2);
}

fn wrong_secret_is_refused_and_counted() {
    let pool = tcp_pool(1);
    let addr = pool.listen_addr().unwrap();
    let (mut stream, nonce) = challenged(addr);
    stream
        .write_all(&answer(&[0x55; 32], &nonce, 1, &[7; 32]))
        .unwrap();
    assert!(closed_by_pool(&mut stream), "a wrong answer got a reply");
    auth_failures_reach(&pool, 1);
    assert_eq!(pool.submit(double, 4).join(), Ok(8));
}

/// A one-worker pool whose launcher gives the test the pool's secret (through a file), and
/// the secret in hexadecimal.
fn pool_telling_its_secret() -> (ProcessPool, String) {
    let secret_file = marker_path();
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(Launcher::command(
            "sh",
            [
                "-c",
                "printf %s \"$BRAID_PROCPOOL_SECRET\" > \"$1\"; exec \"$BRAID_PROCPOOL_EXE\"",
                "sh",
                secret_file.to_str().unwrap(),
            ],
        ))
        .build()
        .unwrap();
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    let _ = std::fs::remove_file(&secret_file);
    (pool, secret)
}

fn replayed_answer_is_refused() {
    let (pool, secret) = pool_telling_its_secret();
    let secret = hex(&secret);
    assert_eq!(secret.len(), 32);
    let addr = pool.listen_addr().unwrap();

    // A good answer, for a worker id nobody was given: admitted (the pool proves itself),
    // then closed, for no slot awaits it.
    let (mut first, nonce) = challenged(addr);
    let own = [9u8; 32];
    let good = answer(&secret, &nonce, 9999, &own);
    first.write_all(&good).unwrap();
    let mut proof = [0u8; 32];
    first.read_exact(&mut proof).expect("the pool's proof");
    assert_eq!(proof, hmac(&secret, &[PARENT_CONTEXT, &own]));
    assert!(closed_by_pool(&mut first));
    assert_eq!(pool.metrics().auth_failures, 0);

    // The same bytes on a new connection answer a nonce that is no longer asked.
    let (mut second, fresh) = challenged(addr);
    assert_ne!(fresh, nonce);
    second.write_all(&good).unwrap();
    assert!(closed_by_pool(&mut second), "a replayed answer got a reply");
    auth_failures_reach(&pool, 1);
    assert_eq!(pool.submit(double, 5).join(), Ok(10));
}

/// What the kernel shows of this worker's environment as it was when the process started.
fn own_environ(_: ()) -> Vec<u8> {
    std::fs::read("/proc/self/environ").expect("/proc/self/environ")
}

/// A worker takes the secret out of its environment, and out of the copy that
/// `/proc/PID/environ` shows (to the worker's user and to root) for as long as it runs:
/// removing the variable alone leaves that copy as it was.
fn the_secret_does_not_stay_in_the_workers_environ() {
    let (pool, secret) = pool_telling_its_secret();
    assert_eq!(secret.len(), 64);
    let environ = pool.submit(own_environ, ()).join().unwrap();
    // The worker's environment is there (the launcher's variables are)...
    let has = |needle: &[u8]| environ.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"BRAID_PROCPOOL_CONNECT="), "an empty environ was read");
    // ...but neither the secret nor any hexadecimal value under its name.
    assert!(
        !has(secret.as_bytes()),
        "the secret is in /proc/PID/environ"
    );
    let name = b"BRAID_PROCPOOL_SECRET=";
    for (at, _) in environ
        .windows(name.len())
        .enumerate()
        .filter(|(_, w)| w == name)
    {
        let value = &environ[at + name.len()..];
        assert!(
            !value.first().is_some_and(u8::is_ascii_hexdigit),
            "a hexadecimal value is left under {}",
            String::from_utf8_lossy(name)
        );
    }
    assert_eq!(pool.submit(double, 9).join(), Ok(18));
}

fn garbage_does_not_crash_the_parent() {
    let pool = tcp_pool(1);
    let addr = pool.listen_addr().unwrap();
    // Bytes that are no answer at all, more than an answer's length.
    let (mut noise, _) = challenged(addr);
    noise.write_all(&[0xff; 500]).unwrap();
    assert!(closed_by_pool(&mut noise));
    // A few bytes, then the connection closes.
    let (mut short, _) = challenged(addr);
    short.write_all(b"GET /").unwrap();
    drop(short);
    // A connection that never reads its greeting and sends garbage straight away.
    let mut rude = TcpStream::connect(addr).unwrap();
    rude.write_all(&[0u8; 72]).unwrap();
    auth_failures_reach(&pool, 3);
    // A garbage frame from an admitted worker: its task fails, the pool carries on.
    let error = pool.submit(sends_a_bad_frame, 1).join().unwrap_err();
    assert!(matches!(error, TaskError::Protocol(_)), "{error:?}");
    assert_eq!(pool.submit(double, 6).join(), Ok(12));
    assert_eq!(pool.metrics().auth_failures, 3);
}

/// Whether the pool still holds `stream` open: whatever it sent has been read and no end of
/// file follows.
fn still_open(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Connections that never answer the challenge, more than the pool keeps in their
/// handshake at once, do not shut its workers out: a newcomer takes the place of the oldest,
/// so a replacement worker joins while the flood's newest connections still wait (they
/// would be closed only when their handshake time runs out, long after).
fn a_flood_of_idle_connections_does_not_shut_workers_out() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(1)
        .launcher(exec_launcher())
        .build()
        .unwrap();
    let addr = pool.listen_addr().unwrap();
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).expect("the pool listens"))
        .collect();
    // Every connection beyond the pool's limit closed one: at least 200 - 64.
    eventually("the flood to be taken in", || {
        pool.metrics().auth_failures >= 136
    });
    // The first worker retires after this task; its replacement must get in.
    let first = pool.submit(worker_pid, ()).join().unwrap();
    let second = pool.submit(worker_pid, ()).join().unwrap();
    assert_ne!(first, second, "no replacement served the second task");
    let doubled: Vec<u64> = pool.map(double, 0..20, 1).map(Result::unwrap).collect();
    assert_eq!(doubled, (0..20).map(|x| x * 2).collect::<Vec<_>>());
    let open = idle.iter().filter(|s| still_open(s)).count();
    assert!(
        open > 0,
        "the workers got in only once every idle connection was closed"
    );
    assert!(
        open <= 64,
        "{open} connections were kept in their handshake"
    );
}

/// A worker whose connection the pool closes before the greeting (as it closes the oldest
/// waiting connection when too many wait) connects again, and joins.
fn a_worker_connects_again_when_closed_before_the_greeting() {
    let key = [0xab_u8; 32];
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    fake.set_nonblocking(true).unwrap();
    let addr = fake.local_addr().unwrap();
    let mut worker = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BRAID_PROCPOOL_CONNECT", format!("1@{addr}"))
        .env("BRAID_PROCPOOL_SECRET", "ab".repeat(32))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut accept = || {
        let mut stream = None;
        eventually("the worker to connect", || match fake.accept() {
            Ok((s, _)) => {
                stream = Some(s);
                true
            }
            Err(_) => worker.try_wait().unwrap().is_some_and(|status| {
                panic!("the worker gave up: {status}");
            }),
        });
        let stream = stream.unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    };
    // Closed at once, greeting nothing.
    drop(accept());
    let mut stream = accept();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let nonce = [5u8; 32];
    let mut hello = b"braidPP1".to_vec();
    hello.extend(nonce);
    stream.write_all(&hello).unwrap();
    let mut got = [0u8; 72];
    stream.read_exact(&mut got).expect("the worker's answer");
    assert_eq!(got[..8], 1u64.to_le_bytes());
    assert_eq!(
        got[8..40],
        hmac(&key, &[WORKER_CONTEXT, &nonce, &1u64.to_le_bytes()])
    );
    stream
        .write_all(&hmac(&key, &[PARENT_CONTEXT, &got[40..]]))
        .unwrap();
    // Admitted, it waits for tasks; closing the connection lets it go.
    drop(stream);
    let status = worker.wait().unwrap();
    let mut stderr = String::new();
    worker
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
}

fn a_killed_worker_fails_only_its_task() {
    let pool = tcp_pool(2);
    let other = pool.submit(common::sleep_then_pid, 200);
    let error = pool.submit(kills_itself, 0).join().unwrap_err();
    assert!(
        matches!(
            error,
            TaskError::WorkerDied {
                signal: Some(libc::SIGKILL),
                ..
            }
        ),
        "{error:?}"
    );
    let behind: Vec<_> = (0..8).map(|i| pool.submit(double, i)).collect();
    assert!(other.join().is_ok());
    for (i, handle) in behind.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(i as u64 * 2));
    }
    eventually("a replacement", || pool.metrics().respawns == 1);
    assert_eq!(pool.metrics().worker_deaths, 1);
    // Killed from outside while idle.
    let pid = pool.submit(worker_pid, ()).join().unwrap();
    // SAFETY: signalling a worker of this pool.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    eventually("a second replacement", || pool.metrics().respawns == 2);
    assert_eq!(pool.submit(double, 50).join(), Ok(100));
}

fn a_timeout_kills_only_its_worker() {
    let pool = tcp_pool(2);
    let hung = pool.submit_with_timeout(loops_forever, 0, Duration::from_millis(200));
    assert_eq!(hung.join(), Err(TaskError::TimedOut));
    assert_eq!(pool.submit(double, 7).join(), Ok(14));
    assert_eq!(pool.metrics().timeouts, 1);
}

/// The launcher is a shell that waits for the worker (no `exec`): killing it on a timeout
/// leaves the worker to notice that its connection closed, in the middle of its task.
fn a_worker_ends_when_its_connection_closes() {
    let pool = shell_pool("\"$BRAID_PROCPOOL_EXE\"; exit 0");
    let marker = marker_path();
    let hung = pool.submit_with_timeout(
        mark_pid_then_loop,
        marker.to_str().unwrap().to_owned(),
        Duration::from_secs(1),
    );
    let worker = read_pid(&marker);
    assert_eq!(hung.join(), Err(TaskError::TimedOut));
    eventually("the orphaned worker to end", || process_gone(worker));
    assert_eq!(pool.submit(double, 8).join(), Ok(16));
}

fn shutdown_wait_and_kill_leave_no_process() {
    let pool = tcp_pool(2);
    let pids: Vec<u32> = (0..2)
        .map(|_| pool.submit(common::sleep_then_pid, 100))
        .map(|h| h.join().unwrap())
        .collect();
    let queued: Vec<_> = (0..4).map(|i| pool.submit(double, i)).collect();
    pool.shutdown(Shutdown::Wait);
    for (i, handle) in queued.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(i as u64 * 2));
    }
    for pid in pids {
        assert!(process_gone(pid), "worker {pid} outlived Shutdown::Wait");
    }
    assert!(no_children());

    let pool = tcp_pool(1);
    let marker = marker_path();
    let running = pool.submit(mark_pid_then_loop, marker.to_str().unwrap().to_owned());
    let worker = read_pid(&marker);
    pool.shutdown(Shutdown::Kill);
    assert_eq!(running.join(), Err(TaskError::ShutDown));
    assert!(
        process_gone(worker),
        "worker {worker} outlived Shutdown::Kill"
    );
    assert!(no_children());
}

fn recycling_replaces_a_worker_after_its_tasks() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(2)
        .launcher(exec_launcher())
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..4)
        .map(|_| pool.submit(worker_pid, ()).join().unwrap())
        .collect();
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pids[2], pids[3]);
    eventually("the retired worker to end", || process_gone(pids[0]));
    assert_eq!(pool.metrics().worker_deaths, 0);
}

/// A worker never serves a peer that cannot prove it knows the secret.
fn a_worker_refuses_a_fake_parent() {
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = fake.local_addr().unwrap();
    let mut worker = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BRAID_PROCPOOL_CONNECT", format!("1@{addr}"))
        .env("BRAID_PROCPOOL_SECRET", "ab".repeat(32))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stream, _) = fake.accept().unwrap();
    let mut hello = b"braidPP1".to_vec();
    hello.extend([3u8; 32]);
    stream.write_all(&hello).unwrap();
    let mut answer = [0u8; 72];
    stream.read_exact(&mut answer).unwrap();
    // A proof made without the secret.
    stream.write_all(&[0u8; 32]).unwrap();
    let status = worker.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    worker
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("does not know the pool's secret"),
        "{stderr}"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Listening sockets of this process's network namespace on `port` (`/proc/self/net/tcp`,
/// state `0A`).
fn listening_on(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/self/net/tcp").expect("/proc/self/net/tcp");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields[1].rsplit(':').next().unwrap();
        u16::from_str_radix(local_port, 16) == Ok(port) && fields[3] == "0A"
    })
}

/// This process's limit on descriptors, lowered for as long as it lives, with descriptors
/// opened to fill it: dropping it closes them and restores the limit, even when a check
/// fails.
struct NoDescriptorLeft {
    saved: libc::rlimit,
    filler: Vec<std::fs::File>,
}

impl NoDescriptorLeft {
    /// Lowers the limit and fills every descriptor below it but one, which the caller takes.
    fn but_one() -> NoDescriptorLeft {
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let mut saved = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `saved` is a valid rlimit for getrlimit to write.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut saved) };
        assert_eq!(got, 0);
        let mut guard = NoDescriptorLeft {
            saved,
            filler: Vec::new(),
        };
        let lowered = libc::rlimit {
            rlim_cur: (highest + 9) as libc::rlim_t,
            rlim_max: saved.rlim_max,
        };
        // SAFETY: `lowered` is a valid rlimit for setrlimit to read.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) };
        assert_eq!(set, 0);
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => guard.filler.push(file),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(guard.filler.len() < 10_000, "the limit does not hold");
        }
        guard.filler.pop();
        guard
    }
}

impl Drop for NoDescriptorLeft {
    fn drop(&mut self) {
        self.filler.clear();
        // SAFETY: `saved` is a valid rlimit for setrlimit to read.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.saved) };
    }
}

/// The processor time, in seconds, that the threads of `stats` (their open
/// `/proc/self/task/TID/stat` files, read again from the start) have used.
fn cpu_seconds(stats: &mut [std::fs::File]) -> f64 {
    use std::io::Seek;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0u64;
    for stat in stats {
        stat.rewind().unwrap();
        let mut text = String::new();
        stat.read_to_string(&mut text).unwrap();
        // After the name in parentheses: state is field 3; utime and stime are 14 and 15.
        let fields: Vec<&str> = text
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total as f64 / ticks
}

/// When accepting fails for want of descriptors (`EMFILE`), the connection stays queued and
/// the listener stays readable: the supervisor must stop watching it for a while rather than
/// try again at once, for ever, at full speed. Once descriptors are free, it listens again
/// and a new worker joins.
fn no_descriptor_left_does_not_spin_the_supervisor() {
    let pool = tcp_pool(1);
    let addr = pool.listen_addr().unwrap();
    let first = pool.submit(worker_pid, ()).join().unwrap();
    // The pool's supervisor thread, and any other pool's still ending: open their stat
    // files now, while there are descriptors to open them with.
    let mut stats: Vec<std::fs::File> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.trim() == "braid-procpool")
        })
        .map(|task| std::fs::File::open(task.join("stat")).unwrap())
        .collect();
    assert!(!stats.is_empty(), "no supervisor thread found");

    let limit = NoDescriptorLeft::but_one();
    // Takes the one free descriptor: the pool cannot accept this connection.
    let waiting = TcpStream::connect(addr).expect("the kernel queues the connection");
    let (cpu, started) = (cpu_seconds(&mut stats), std::time::Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = (cpu_seconds(&mut stats) - cpu) / started.elapsed().as_secs_f64();
    // Accepting failed throughout: the pool sent no greeting.
    let mut byte = [0u8; 1];
    waiting.set_nonblocking(true).unwrap();
    let greeted = (&waiting).read(&mut byte);
    assert!(
        matches!(&greeted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the connection was accepted after all: {greeted:?}"
    );
    // A loop that spins uses all of a processor, or all it can get of one on a busy machine;
    // one that waits uses next to none.
    assert!(
        used < 0.25,
        "the supervisor used {:.0}% of a processor while it could not accept",
        used * 100.0
    );

    drop(limit);
    // Listening again: the waiting connection gets its greeting...
    waiting.set_nonblocking(false).unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut hello = [0u8; 40];
    (&waiting).read_exact(&mut hello).expect("a greeting");
    assert_eq!(&hello[..8], b"braidPP1");
    // ...and a killed worker's replacement joins and runs tasks.
    // SAFETY: signalling a worker of this pool.
    unsafe { libc::kill(first as libc::pid_t, libc::SIGKILL) };
    eventually("a replacement", || pool.metrics().respawns == 1);
    assert_ne!(pool.submit(worker_pid, ()).join(), Ok(first));
    assert_eq!(pool.submit(double, 21).join(), Ok(42));
}

fn a_hundred_pools_leave_nothing_behind() {
    // The first pool's one-time costs (the tracing registry, std's lazies) are not a leak.
    drop(tcp_pool(1));
    let fds = open_fds();
    let mut addrs = Vec::new();
    for i in 0..100u64 {
        let pool = tcp_pool(1);
        addrs.push(pool.listen_addr().unwrap());
        assert_eq!(pool.submit(double, i).join(), Ok(i * 2));
    }
    assert_eq!(open_fds(), fds, "descriptors leaked");
    assert!(no_children(), "a worker or launcher was left behind");
    for addr in addrs {
        assert!(!listening_on(addr.port()), "{addr} still listens");
        assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts");
    }
}

/// Listening on every interface, as asked: the workers are told an address of this host
/// they can connect to, not `0.0.0.0`.
fn every_interface_tells_workers_a_real_address() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(exec_launcher().listen(SocketAddr::from(([0, 0, 0, 0], 0))))
        .build()
        .unwrap();
    let addr = pool.listen_addr().unwrap();
    assert!(!addr.ip().is_unspecified(), "workers are told {addr}");
    assert_ne!(addr.port(), 0);
    assert_eq!(pool.submit(double, 4).join(), Ok(8));
    // The worker connected to the address it was told.
    let told = pool.submit(told_address, ()).join().unwrap();
    assert!(told.contains(&addr.to_string()), "{told} vs {addr}");
}

/// The address the worker connected to: the peer of the one TCP connection it holds.
fn told_address(_: ()) -> String {
    // The worker's connection is the only TCP socket it holds; its peer is the pool.
    let fds = std::fs::read_dir("/proc/self/fd").unwrap();
    for fd in fds.flatten() {
        let n: i32 = match fd.file_name().to_str().and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => continue,
        };
        // SAFETY: the descriptor is only borrowed for getpeername and not closed.
        let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(n) };
        if let Ok(stream) = socket.try_clone_to_owned().map(TcpStream::from) {
            if let Ok(peer) = stream.peer_addr() {
                return peer.to_string();
            }
        }
    }
    String::new()
}

/// A worker that never connects fails the build after the launcher's start time-out, not
/// the default minute, and leaves no process behind.
fn a_start_timeout_bounds_the_wait_for_a_worker() {
    let started = std::time::Instant::now();
    let built = ProcessPool::builder()
        .workers(1)
        .launcher(Launcher::command("sleep", ["600"]).start_timeout(Duration::from_millis(300)))
        .build();
    let Err(error) = built else {
        panic!("a worker that never connects cannot make a pool");
    };
    assert!(
        error.to_string().contains("not ready within 300ms"),
        "{error}"
    );
    // The default is a minute; this one gave up long before.
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    eventually("the launcher to be reaped", no_children);
    let zero = ProcessPool::builder()
        .workers(1)
        .launcher(exec_launcher().start_timeout(Duration::ZERO))
        .build();
    assert!(zero.is_err(), "a zero start time-out is refused");
}

/// A worker whose process is frozen (as a machine that stopped would be) sends no more
/// heartbeats: the pool counts it dead after three intervals, its task fails saying so,
/// and the other worker's tasks and the ones queued behind complete.
fn a_frozen_worker_is_counted_dead_by_its_silence() {
    let pool = ProcessPool::builder()
        .workers(2)
        .launcher(exec_launcher().heartbeat(Duration::from_millis(100)))
        .build()
        .unwrap();
    let marker = marker_path();
    let frozen = pool.submit(mark_pid_then_loop, marker.to_str().unwrap().to_owned());
    let worker = read_pid(&marker);
    // SAFETY: kill has no memory-safety preconditions; `worker` is this pool's worker.
    unsafe { libc::kill(worker as libc::pid_t, libc::SIGSTOP) };
    let behind: Vec<_> = (0..8).map(|i| pool.submit(double, i)).collect();
    let error = frozen.join().unwrap_err();
    match &error {
        TaskError::WorkerDied {
            reason: Some(reason),
            ..
        } if reason.contains("heartbeat") => {}
        other => panic!("expected a death by silence, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("not even a heartbeat, for 300ms"),
        "{error}"
    );
    for (i, handle) in behind.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(i as u64 * 2));
    }
    eventually("the frozen worker to be gone", || process_gone(worker));
    eventually("two workers again", || pool.metrics().workers == 2);
    assert_eq!(pool.metrics().worker_deaths, 1);
}

/// A worker busy in a long task keeps sending heartbeats from its own thread: many
/// intervals without a result do not count it dead.
fn a_busy_worker_keeps_its_heartbeat() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(exec_launcher().heartbeat(Duration::from_millis(20)))
        .build()
        .unwrap();
    // 1.5 s: fifty intervals, twenty-five times the silence the pool tolerates.
    let pid = pool.submit(common::sleep_then_pid, 1_500).join().unwrap();
    assert_eq!(
        pool.submit(common::pid, ()).join(),
        Ok(pid),
        "the same worker lives on"
    );
    assert_eq!(pool.metrics().worker_deaths, 0);
}

/// Settings at their largest ("wait as long as it takes") are taken as such, not as an
/// overflow that stops the pool.
fn the_largest_durations_mean_forever() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(
            exec_launcher()
                .start_timeout(Duration::MAX)
                .heartbeat(Duration::MAX),
        )
        .build()
        .expect("a pool that waits forever for its workers starts");
    assert_eq!(pool.submit(double, 21).join(), Ok(42));
    assert_eq!(pool.metrics().worker_deaths, 0);
}

/// A worker whose launcher lives on after the worker died (a shell that goes on to other
/// things): the pool gives the launcher a grace, then ends it, and the task's error says
/// that the exit status is the launcher's, not the worker's.
fn a_launcher_that_outlives_its_worker_is_ended_and_said_so() {
    let pool = shell_pool("\"$BRAID_PROCPOOL_EXE\"; exec sleep 600");
    let error = pool.submit(exits_with_3, 0).join().unwrap_err();
    match &error {
        TaskError::WorkerDied {
            reason: Some(reason),
            ..
        } if reason.contains("launcher was still running") => {}
        other => panic!("expected the launcher's grace to be named, got {other:?}"),
    }
    assert_eq!(pool.submit(double, 1).join(), Ok(2));
}

fn exits_with_3(_: u64) -> u64 {
    std::process::exit(3)
}

/// What a re-run of this binary is asked to be.
const ROLE_ENV: &str = "BRAID_TCP_TEST_ROLE";

/// A Slurm controller that never answers does not hang building a pool that has to ask it
/// where to listen: the build fails, saying so, and suggests choosing the address.
fn a_silent_slurm_controller_fails_the_build_in_time() {
    let bin = StandIns::new();
    bin.script("scontrol", "#!/bin/sh\nexec sleep 600\n");
    let path = format!(
        "{}:{}",
        bin.dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(ROLE_ENV, "slurm-default-address")
        .env("PATH", path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(said.contains("did not answer within 10s"), "{said}");
    assert!(said.contains("Slurm::listen"), "{said}");
}

/// The role: build a Slurm pool with no address given, and print what came of it.
fn build_with_slurms_default_address() -> i32 {
    match ProcessPool::builder()
        .workers(1)
        .launcher(Launcher::slurm())
        .build()
    {
        Ok(_) => {
            println!("built");
            1
        }
        Err(e) => {
            println!("{e}");
            0
        }
    }
}

fn main() {
    braid_procpool::init();
    if std::env::var(ROLE_ENV).as_deref() == Ok("slurm-default-address") {
        std::process::exit(build_with_slurms_default_address());
    }
    let mut checks = Checks::new();
    checks.run(
        "a launcher that outlives its worker is ended, and said so",
        a_launcher_that_outlives_its_worker_is_ended_and_said_so,
    );
    checks.run(
        "the largest durations mean forever",
        the_largest_durations_mean_forever,
    );
    checks.run(
        "a silent Slurm controller fails the build in time",
        a_silent_slurm_controller_fails_the_build_in_time,
    );
    checks.run(
        "a frozen worker is counted dead by its silence",
        a_frozen_worker_is_counted_dead_by_its_silence,
    );
    checks.run(
        "a busy worker keeps its heartbeat",
        a_busy_worker_keeps_its_heartbeat,
    );
    checks.run(
        "a start time-out bounds the wait for a worker",
        a_start_timeout_bounds_the_wait_for_a_worker,
    );
    checks.run(
        "listening on every interface tells workers a real address",
        every_interface_tells_workers_a_real_address,
    );
    checks.run(
        "tasks and maps run on workers started by a command",
        runs_tasks_and_maps,
    );
    checks.run(
        "a wrong secret is refused and counted",
        wrong_secret_is_refused_and_counted,
    );
    checks.run("a replayed answer is refused", replayed_answer_is_refused);
    checks.run(
        "the secret does not stay in the worker's environ",
        the_secret_does_not_stay_in_the_workers_environ,
    );
    checks.run(
        "garbage does not crash the parent",
        garbage_does_not_crash_the_parent,
    );
    checks.run(
        "a flood of idle connections does not shut workers out",
        a_flood_of_idle_connections_does_not_shut_workers_out,
    );
    checks.run(
        "a worker connects again when closed before the greeting",
        a_worker_connects_again_when_closed_before_the_greeting,
    );
    checks.run(
        "a killed worker fails only its task",
        a_killed_worker_fails_only_its_task,
    );
    checks.run(
        "a timeout kills only its worker",
        a_timeout_kills_only_its_worker,
    );
    checks.run(
        "a worker ends when its connection closes",
        a_worker_ends_when_its_connection_closes,
    );
    checks.run(
        "shutdown Wait and Kill leave no process",
        shutdown_wait_and_kill_leave_no_process,
    );
    checks.run(
        "recycling replaces a worker after its tasks",
        recycling_replaces_a_worker_after_its_tasks,
    );
    checks.run(
        "a worker refuses a fake parent",
        a_worker_refuses_a_fake_parent,
    );
    checks.run(
        "no descriptor left does not spin the supervisor",
        no_descriptor_left_does_not_spin_the_supervisor,
    );
    checks.run(
        "100 pools leave nothing behind",
        a_hundred_pools_leave_nothing_behind,
    );
    checks.finish();
}
