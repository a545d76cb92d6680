//! Child processes: pipes, exit statuses, kills, 200 children at once, and nothing left
//! behind (no zombies, no descriptors), through both the pidfd and the SIGCHLD path.
//!
//! Every test takes `serial()` first: the descriptor and zombie checks look at the whole
//! process, so no other test of this file may spawn or open anything meanwhile.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::rc::Rc;
use std::time::Duration;

use braid_executor::process::{Child, Command, Stdio};
use braid_executor::{gather, run, sleep, spawn, timeout};
#[cfg(target_os = "linux")]
use common::open_descriptors;
use common::{raise_fd_limit, serial, within};
use futures::{AsyncReadExt, AsyncWriteExt};

const HANG_GUARD: Duration = Duration::from_secs(60);

/// Runs the future `test` makes in a fresh loop on a thread of its own, with no other test
/// of this file running, and fails if it hangs.
fn run_alone<Fut: Future<Output = ()>>(test: impl FnOnce() -> Fut + Send + 'static) {
    let _serial = serial();
    within(HANG_GUARD, || run(test()));
}

/// [`run_alone`], running `test` once for each way of watching exits, in the same loop.
fn run_alone_both_ways<Fut: Future<Output = ()>>(test: impl Fn(Watch) -> Fut + Send + 'static) {
    run_alone(move || async move {
        for watch in BOTH {
            test(watch).await;
        }
    });
}

/// Which way children's exits are watched.
#[derive(Debug, Clone, Copy)]
enum Watch {
    /// The platform's default: a pidfd on Linux.
    Default,
    /// `SIGCHLD`, as where pidfds are missing.
    Sigchld,
}

const BOTH: [Watch; 2] = [Watch::Default, Watch::Sigchld];

fn command(watch: Watch, program: &str) -> Command {
    let mut command = Command::new(program);
    if let Watch::Sigchld = watch {
        command.watch_exit_with_sigchld();
    }
    command
}

fn sh(watch: Watch, script: &str) -> Command {
    let mut command = command(watch, "sh");
    command.args(["-c", script]);
    command
}

/// What `waitid(WNOWAIT)` says about `pid`, without reaping it.
#[derive(Debug, PartialEq, Eq)]
enum ChildState {
    /// Not (or no longer) a child of this process: it was reaped.
    Gone,
    Running,
    /// Exited, not reaped yet: a zombie.
    Exited,
}

fn child_state(pid: u32) -> ChildState {
    // SAFETY: an all-zero siginfo_t is a valid value for waitid to overwrite.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid for writes; WNOWAIT leaves the child waitable.
    let result = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if result == -1 {
        let error = io::Error::last_os_error();
        assert_eq!(error.raw_os_error(), Some(libc::ECHILD), "waitid: {error}");
        return ChildState::Gone;
    }
    // SAFETY: waitid succeeded, so `info` holds a child's state (or zeroes if none changed).
    if unsafe { info.si_pid() } == 0 {
        ChildState::Running
    } else {
        ChildState::Exited
    }
}

/// Waits, on the loop, until `pid` has been reaped by someone other than this function.
async fn until_reaped(pid: u32) {
    while child_state(pid) != ChildState::Gone {
        sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn two_hundred_cats_at_once_each_echo_their_own_message() {
    // Four descriptors a child (three pipes and a pidfd) and some to spare.
    raise_fd_limit(1024);
    run_alone(|| async {
        let echoed = gather((0..200).map(|i| async move {
            // Half watch the exit through SIGCHLD, so both paths carry many children.
            let watch = BOTH[i % 2];
            let mut child = command(watch, "cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let message = format!("message {i} for cat number {i}\n");
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(message.as_bytes()).await?;
            stdin.close().await?;
            let mut reply = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut reply)
                .await?;
            let status = child.wait().await?;
            io::Result::Ok((message, reply, status))
        }))
        .await;
        for result in echoed {
            let (message, reply, status) = result.unwrap();
            assert_eq!(reply, message);
            assert!(status.success(), "{status}");
        }
    });
}

#[test]
fn large_stdout_and_stderr_at_once_do_not_deadlock() {
    const SIZE: usize = 4_000_000;
    // The child fills stdout before it writes a byte of stderr: reading only one pipe at a
    // time would leave it blocked, or leave us waiting for it.
    run_alone_both_ways(|watch| async move {
        let output = sh(
            watch,
            "head -c 4000000 /dev/zero; head -c 4000000 /dev/zero >&2; echo done >&2",
        )
        .output()
        .await
        .unwrap();
        assert!(output.status.success(), "{}", output.status);
        assert_eq!(output.stdout.len(), SIZE);
        assert!(output.stdout.iter().all(|&byte| byte == 0));
        assert_eq!(output.stderr.len(), SIZE + 5);
        assert!(output.stderr.ends_with(b"done\n"));
    });
}

#[test]
fn a_child_killed_mid_write_reports_sigkill_and_its_stdout_ends() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "yes")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0; 4096];
        stdout.read_exact(&mut first).await.unwrap();
        assert!(first.starts_with(b"y\ny\n"));

        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert_eq!(status.code(), None);
        // Whatever was left in the pipe, then end-of-file: the read does not hang.
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).await.unwrap();
        assert!(rest.iter().all(|&byte| byte == b'y' || byte == b'\n'));

        // Killing a reaped child is a no-op, never a signal to a recycled pid.
        assert_eq!(child.id(), None);
        child.start_kill().unwrap();
        child.kill().await.unwrap();
    });
}

#[test]
fn terminate_and_send_signal_reach_the_child_and_stop_once_it_is_reaped() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "sleep").arg("1000").spawn().unwrap();
        child.terminate().unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
        // Reaped: nothing is sent, and nothing fails.
        child.terminate().unwrap();
        child.send_signal(libc::SIGKILL).unwrap();

        // A child that handles the signal: it says when its handler is in place.
        let mut child = sh(
            watch,
            "trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done",
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut ready = [0u8; 6];
        stdout.read_exact(&mut ready).await.unwrap();
        assert_eq!(&ready, b"ready\n");
        child.send_signal(libc::SIGUSR1).unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(7));

        // A number that is no signal is refused, and the child runs on.
        let mut child = command(watch, "sleep").arg("1000").spawn().unwrap();
        let error = child.send_signal(1000).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().await.unwrap();
    });
}

#[test]
fn kill_waits_and_a_cancelled_wait_can_be_repeated() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        // A wait dropped by a timeout leaves the child as it was.
        let waited = timeout(Duration::from_millis(20), child.wait()).await;
        assert!(waited.is_err(), "sleep 1000 ended early: {waited:?}");
        assert_eq!(child.try_wait().unwrap(), None);
        assert_eq!(child.id(), Some(pid));

        child.kill().await.unwrap();
        assert_eq!(child.id(), None);
        assert_eq!(child_state(pid), ChildState::Gone);
        let status = child.try_wait().unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn a_missing_program_is_not_found_and_names_the_program() {
    run_alone(|| async {
        for watch in BOTH {
            let error = command(watch, "braid-no-such-program").spawn().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
            assert!(
                error.to_string().contains("braid-no-such-program"),
                "the message does not name the program: {error}"
            );
            let error = command(watch, "/nonexistent/dir/prog")
                .output()
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        }
        // Not executable.
        let error = Command::new("/dev/null").status().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
    });
}

#[test]
fn exit_codes_propagate() {
    run_alone_both_ways(|watch| async move {
        let status = sh(watch, "exit 3").status().await.unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(!status.success());

        let mut child = sh(watch, "exit 42").spawn().unwrap();
        assert!(child.id().is_some());
        assert_eq!(child.wait().await.unwrap().code(), Some(42));
        assert_eq!(child.id(), None);
        // The status is kept: asking again gives the same answer at once.
        assert_eq!(child.wait().await.unwrap().code(), Some(42));
        assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(42));

        let output = sh(watch, "echo out; echo err >&2; exit 7")
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(7));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");

        let status = sh(watch, "kill -TERM $$").status().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    });
}

#[test]
fn output_pipes_stdout_and_stderr_but_leaves_explicit_settings_and_spawn_alone() {
    run_alone(|| async {
        let mut command = sh(Watch::Default, "echo out; echo err >&2; cat");
        // stdin is /dev/null by default in output(), so cat ends at once.
        let output = command.output().await.unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");

        command.stderr(Stdio::null());
        let output = command.output().await.unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(
            output.stderr, b"",
            "an explicit Stdio::null() was overridden"
        );

        // output()'s defaults do not stick: a plain spawn gets no pipes.
        let mut child = Command::new("true").spawn().unwrap();
        assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
        child.wait().await.unwrap();
        let mut command = Command::new("true");
        command.output().await.unwrap();
        let mut child = command.spawn().unwrap();
        assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
        child.wait().await.unwrap();
    });
}

#[test]
fn the_environment_and_directory_reach_the_child() {
    run_alone(|| async {
        let output = sh(Watch::Default, "echo \"$A-$B-${HOME:-unset}\"; pwd")
            .env_clear()
            .envs([("A", "1"), ("B", "2")])
            .env("C", "3")
            .env_remove("C")
            .current_dir("/")
            .output()
            .await
            .unwrap();
        assert_eq!(output.stdout, b"1-2-unset\n/\n");
    });
}

#[test]
fn closing_stdin_lets_cat_finish_and_writing_after_is_an_error() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"before close").await.unwrap();
        stdin.close().await.unwrap();
        let error = stdin.write_all(b"after").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        stdin.close().await.unwrap();

        let mut echoed = Vec::new();
        let mut stdout = child.stdout.take().unwrap();
        stdout.read_to_end(&mut echoed).await.unwrap();
        assert_eq!(echoed, b"before close");
        assert!(child.wait().await.unwrap().success());

        // Dropping stdin closes it as well.
        let mut child = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        drop(child.stdin.take());
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn a_childs_stdout_becomes_the_next_childs_blocking_stdin() {
    run_alone_both_ways(|watch| async move {
        #[cfg(target_os = "linux")]
        let fds_before = open_descriptors();
        // The writer pauses between its two halves, so the reader meets an empty pipe: had
        // the pipe stayed non-blocking, cat's read would fail instead of waiting.
        let mut writer = sh(watch, "printf 'first '; sleep 0.2; printf second")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = Stdio::try_from(writer.stdout.take().unwrap()).unwrap();
        let output = command(watch, "cat").stdin(pipe).output().await.unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(output.stdout, b"first second");
        assert!(writer.wait().await.unwrap().success());

        // The other way round: a child's stdin becomes the stdout of one started after it.
        let mut reader = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = Stdio::try_from(reader.stdin.take().unwrap()).unwrap();
        let status = sh(watch, "printf 'one '; sleep 0.2; printf two")
            .stdout(pipe)
            .status()
            .await
            .unwrap();
        assert!(status.success());
        let output = reader.wait_with_output().await.unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout, b"one two");

        // A closed stdin has nothing to pass on.
        let mut child = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.close().await.unwrap();
        let error = Stdio::try_from(stdin).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert!(child.wait().await.unwrap().success());
        // Every pipe end was closed on the way.
        #[cfg(target_os = "linux")]
        assert_eq!(open_descriptors(), fds_before);
    });
}

#[test]
fn wait_closes_stdin_so_a_reader_finishes() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        assert!(child.stdin.is_some());
        assert!(child.wait().await.unwrap().success());
        assert!(child.stdin.is_none());
    });
}

#[test]
fn writing_to_a_child_that_exited_is_broken_pipe_not_a_hang() {
    run_alone(|| async {
        let mut child = sh(Watch::Default, "exit 0")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // More than a pipe holds, so the write cannot just sit in the buffer.
        let error = stdin.write_all(&vec![0; 1 << 20]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
    });
}

#[test]
fn dropped_children_are_reaped_not_left_as_zombies() {
    run_alone_both_ways(|watch| async move {
        let mut pids = Vec::new();
        for _ in 0..10 {
            // Running when dropped; exits when its stdin (dropped with it) closes.
            let child = command(watch, "cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            pids.push(child.id().unwrap());
            drop(child);
        }
        // Killed when dropped.
        let child = command(watch, "sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        pids.push(child.id().unwrap());
        drop(child);
        // Exited, not yet reaped, when dropped: the drop reaps it at once.
        let child = command(watch, "true").spawn().unwrap();
        let pid = child.id().unwrap();
        while child_state(pid) == ChildState::Running {
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(child_state(pid), ChildState::Exited);
        drop(child);
        assert_eq!(child_state(pid), ChildState::Gone);
        for pid in pids {
            until_reaped(pid).await;
        }
        // The last one: no later spawn or drop sweeps it up, the loop must reap it.
        let child = command(watch, "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child);
        until_reaped(pid).await;
    });
}

#[test]
fn a_child_reaped_by_other_code_is_an_error_for_wait_not_a_hang() {
    run_alone_both_ways(|watch| async move {
        let mut child = command(watch, "true").spawn().unwrap();
        let pid = child.id().unwrap();
        // Other code reaps it first, as a `waitpid(-1)` elsewhere in the program would.
        let mut status = 0;
        // SAFETY: waitpid on this process's own child, with a valid place for the status;
        // it blocks only until `true` exits.
        let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        assert_eq!(reaped, pid as libc::pid_t);
        let error = child.wait().await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ECHILD), "{error}");
        assert!(child.try_wait().is_err());
    });
}

#[test]
fn a_child_dropped_after_its_loop_ended_is_reaped_by_a_later_spawn() {
    let _serial = serial();
    within(HANG_GUARD, || {
        for watch in BOTH {
            // `cat` runs until its stdin, dropped with the `Child`, closes.
            let child: Child = run(async {
                command(watch, "cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            });
            let pid = child.id().unwrap();
            // No loop runs now: nothing can watch it, so it goes on the orphan list.
            drop(child);
            while child_state(pid) == ChildState::Running {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(
                child_state(pid),
                ChildState::Exited,
                "nothing should have reaped it yet"
            );
            run(async {
                let mut other = Command::new("true").spawn().unwrap();
                assert_eq!(child_state(pid), ChildState::Gone);
                other.wait().await.unwrap();
            });
        }
    });
}

#[test]
fn a_child_dropped_when_its_loop_shuts_down_is_reaped_later() {
    let _serial = serial();
    within(HANG_GUARD, || {
        for watch in BOTH {
            let pid = Rc::new(Cell::new(None));
            run({
                let pid = pid.clone();
                async move {
                    // A task still holding a running child when the loop ends: the loop
                    // cancels it, dropping the child during shutdown.
                    spawn({
                        let pid = pid.clone();
                        async move {
                            let child = command(watch, "cat")
                                .stdin(Stdio::piped())
                                .stdout(Stdio::null())
                                .spawn()
                                .unwrap();
                            pid.set(child.id());
                            std::future::pending::<()>().await;
                            drop(child);
                        }
                    })
                    .detach();
                    while pid.get().is_none() {
                        sleep(Duration::from_millis(1)).await;
                    }
                }
            });
            let pid = pid.get().unwrap();
            while child_state(pid) == ChildState::Running {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(child_state(pid), ChildState::Exited);
            run(async {
                Command::new("true").status().await.unwrap();
                assert_eq!(child_state(pid), ChildState::Gone);
            });
        }
    });
}

#[test]
fn children_of_other_code_are_never_reaped() {
    let _serial = serial();
    within(HANG_GUARD, || {
        // A child that std started, exiting while braid children come and go.
        let mut foreign = std::process::Command::new("true").spawn().unwrap();
        let foreign_pid = foreign.id();
        run(async {
            while child_state(foreign_pid) == ChildState::Running {
                sleep(Duration::from_millis(1)).await;
            }
            for watch in BOTH {
                for _ in 0..3 {
                    sh(watch, "exit 0").status().await.unwrap();
                }
                drop(command(watch, "true").spawn().unwrap());
                sh(watch, "exit 0").status().await.unwrap();
            }
            assert_eq!(child_state(foreign_pid), ChildState::Exited);
        });
        assert!(foreign.wait().unwrap().success());
    });
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn spawning_outside_a_loop_panics_with_a_message_that_says_so() {
    let _serial = serial();
    let _ = Command::new("true").spawn();
}

#[test]
#[should_panic(expected = "outside the running event loop that spawned it")]
fn waiting_outside_the_loop_panics_with_a_message_that_says_so() {
    let _serial = serial();
    let mut child = run(async { Command::new("true").spawn().unwrap() });
    let _ = futures::executor::block_on(child.wait());
}

#[test]
#[should_panic(expected = "ChildStdout was used outside the running event loop")]
fn reading_a_pipe_outside_the_loop_panics_with_a_message_that_says_so() {
    let _serial = serial();
    let mut stdout = run(async {
        let mut child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
        child.stdout.take().unwrap()
    });
    let _ = futures::executor::block_on(stdout.read(&mut [0; 8]));
}

#[cfg(target_os = "linux")]
#[test]
fn fifty_spawns_leak_no_descriptors() {
    run_alone(|| async {
        async fn cycle(watch: Watch) {
            let mut child = command(watch, "cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"x").await.unwrap();
            drop(stdin);
            let output = child.wait_with_output().await.unwrap();
            assert_eq!(output.stdout, b"x");
            // And one dropped without a wait, reaped by the loop.
            let child = command(watch, "true")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id().unwrap();
            drop(child);
            until_reaped(pid).await;
            command(watch, "braid-no-such-program").spawn().unwrap_err();
        }
        // Whatever the loop sets up once (the SIGCHLD wake-up socket) is made here.
        cycle(Watch::Default).await;
        cycle(Watch::Sigchld).await;
        let before = open_descriptors();
        for i in 0..50 {
            cycle(BOTH[i % 2]).await;
        }
        assert_eq!(open_descriptors(), before);
    });
}

/// How many of this process's descriptors are pidfds.
#[cfg(target_os = "linux")]
fn open_pidfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("pidfd"))
        .count()
}

/// Whether braid's handler (rather than the default) is installed for `SIGCHLD`.
#[cfg(target_os = "linux")]
fn sigchld_is_caught() -> bool {
    // SAFETY: an all-zero sigaction is a valid value for sigaction to overwrite.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `action`.
    let result = unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut action) };
    assert_eq!(result, 0);
    action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN
}

#[cfg(target_os = "linux")]
#[test]
fn each_path_is_the_one_in_use() {
    run_alone(|| {
        // SAFETY: pidfd_open of our own pid only returns a new descriptor (closed below).
        let probe = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
        let kernel_has_pidfds = probe >= 0;
        if kernel_has_pidfds {
            // SAFETY: `probe` is the descriptor just opened, owned by nothing else.
            unsafe { libc::close(probe as libc::c_int) };
        }
        async move {
            assert!(!sigchld_is_caught());
            let pidfds = open_pidfds();
            let mut child = command(Watch::Default, "cat")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            if kernel_has_pidfds {
                assert_eq!(open_pidfds(), pidfds + 1, "no pidfd watches the child");
                assert!(!sigchld_is_caught());
            }
            child.wait().await.unwrap();
            assert_eq!(open_pidfds(), pidfds, "the pidfd outlived the wait");

            let mut child = command(Watch::Sigchld, "cat")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            assert_eq!(open_pidfds(), pidfds);
            assert!(sigchld_is_caught(), "no SIGCHLD listener watches the child");
            child.wait().await.unwrap();
            assert!(
                !sigchld_is_caught(),
                "the SIGCHLD listener outlived the wait"
            );
        }
    });
}
