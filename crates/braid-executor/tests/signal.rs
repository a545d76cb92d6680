//! Unix signals delivered to event loops.
//!
//! Signals and their handlers belong to the whole process, and the descriptor count is
//! process-wide too, so every test here takes `serial()` first; each also uses its own signal.
//! A signal is raised only while a listener exists, so its default action (often ending the
//! process) never runs.

mod common;

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use braid_executor::signal::{ctrl_c, signal, Signal};
use braid_executor::{run, spawn, timeout, EventLoop};
use futures::{poll, StreamExt};

#[cfg(target_os = "linux")]
use common::open_descriptors;
use common::serial;

/// Long enough that only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Delivers `signum` to this thread before returning.
fn raise(signum: i32) {
    // SAFETY: `raise` has no preconditions; callers hold a listener, so braid handles it.
    assert_eq!(unsafe { libc::raise(signum) }, 0);
}

/// Sends `signum` to the whole process; any thread may handle it.
fn kill_self(signum: i32) {
    // SAFETY: `kill` has no memory preconditions; callers hold a listener.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signum) }, 0);
}

/// The current disposition of `signum`.
fn disposition(signum: i32) -> libc::sigaction {
    let mut current = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads; `current` is valid for the write.
    let result = unsafe { libc::sigaction(signum, std::ptr::null(), current.as_mut_ptr()) };
    assert_eq!(result, 0, "{}", io::Error::last_os_error());
    // SAFETY: `sigaction` succeeded and filled it.
    unsafe { current.assume_init() }
}

fn set_disposition(signum: i32, action: &libc::sigaction) {
    // SAFETY: `action` is a valid disposition; the old one is not asked for.
    let result = unsafe { libc::sigaction(signum, action, std::ptr::null_mut()) };
    assert_eq!(result, 0, "{}", io::Error::last_os_error());
}

/// Awaits `future`, failing the test if it hangs.
async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    match timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: still waiting after {HANG_GUARD:?}"),
    }
}

async fn received(listener: &mut Signal) {
    let got = guarded("a delivered signal was not received", listener.recv()).await;
    assert_eq!(got, Some(()));
}

/// Whether `listener` has a delivery waiting, without waiting for one.
async fn has_delivery(listener: &mut Signal) -> bool {
    poll!(pin!(listener.recv())).is_ready()
}

#[test]
fn a_raised_sigusr1_is_received_once() {
    let _serial = serial();
    run(async {
        let mut usr1 = signal(libc::SIGUSR1).unwrap();
        assert_eq!(usr1.signum(), libc::SIGUSR1);
        assert!(
            !has_delivery(&mut usr1).await,
            "a delivery before any raise"
        );
        raise(libc::SIGUSR1);
        received(&mut usr1).await;
        assert!(!has_delivery(&mut usr1).await, "one raise reported twice");
    });
}

#[test]
fn a_sigterm_is_received_instead_of_ending_the_process() {
    let _serial = serial();
    run(async {
        let mut term = signal(libc::SIGTERM).unwrap();
        raise(libc::SIGTERM);
        received(&mut term).await;
        kill_self(libc::SIGTERM);
        received(&mut term).await;
    });
}

#[test]
fn ctrl_c_completes_at_sigint_and_puts_the_old_handler_back() {
    let _serial = serial();
    let before = disposition(libc::SIGINT);
    run(async {
        let mut interrupted = pin!(ctrl_c());
        // The first poll starts listening.
        assert!(poll!(interrupted.as_mut()).is_pending());
        assert_ne!(
            disposition(libc::SIGINT).sa_sigaction,
            before.sa_sigaction,
            "ctrl_c is waiting but SIGINT still has its old handler"
        );
        raise(libc::SIGINT);
        guarded("ctrl_c missed a SIGINT", interrupted)
            .await
            .unwrap();
    });
    assert_eq!(disposition(libc::SIGINT).sa_sigaction, before.sa_sigaction);
}

#[test]
fn a_dropped_recv_loses_no_delivery() {
    let _serial = serial();
    run(async {
        let mut usr1 = signal(libc::SIGUSR1).unwrap();
        // A wait that times out...
        let waited = timeout(Duration::from_millis(1), usr1.recv()).await;
        assert!(waited.is_err(), "a delivery nobody raised");
        // ...and one dropped after the delivery came but before it was polled again.
        {
            let mut waiting = pin!(usr1.recv());
            assert!(poll!(waiting.as_mut()).is_pending());
            raise(libc::SIGUSR1);
        }
        received(&mut usr1).await;
    });
}

#[test]
fn a_burst_is_reported_at_least_once_and_never_again() {
    let _serial = serial();
    run(async {
        let mut usr2 = signal(libc::SIGUSR2).unwrap();
        for burst in 1..=5 {
            for _ in 0..burst {
                raise(libc::SIGUSR2);
            }
            received(&mut usr2).await;
            // All raises happened before the `recv`, which took them all.
            assert!(
                !has_delivery(&mut usr2).await,
                "a burst of {burst} was reported again"
            );
        }
    });
}

#[test]
fn each_delivery_from_another_thread_wakes_the_waiting_loop() {
    let _serial = serial();
    const ROUNDS: usize = 50;
    let (please_send, requests) = mpsc::channel::<()>();
    run(async {
        let mut usr2 = signal(libc::SIGUSR2).unwrap();
        let sender = thread::spawn(move || {
            for _ in requests {
                kill_self(libc::SIGUSR2);
            }
        });
        for round in 0..ROUNDS {
            please_send.send(()).unwrap();
            // The loop is (or soon will be) blocked in the poller when the signal comes,
            // often on this very thread: a lost wake-up hangs here.
            let got = guarded(&format!("round {round}"), usr2.recv()).await;
            assert_eq!(got, Some(()));
        }
        drop(please_send);
        sender.join().unwrap();
    });
}

#[test]
fn every_listener_in_one_loop_sees_a_delivery() {
    let _serial = serial();
    run(async {
        let mut listeners: Vec<Signal> = (0..3).map(|_| signal(libc::SIGWINCH).unwrap()).collect();
        raise(libc::SIGWINCH);
        let late = signal(libc::SIGWINCH).unwrap();
        for listener in &mut listeners {
            received(listener).await;
        }
        let mut late = late;
        assert!(
            !has_delivery(&mut late).await,
            "a listener made after a delivery saw it"
        );

        // Waiting together: one delivery wakes every waiting task.
        let tasks: Vec<_> = listeners
            .into_iter()
            .chain([late])
            .map(|mut listener| spawn(async move { listener.recv().await }))
            .collect();
        braid_executor::yield_now().await;
        raise(libc::SIGWINCH);
        for task in tasks {
            let got = guarded("a waiting listener was not woken", task).await;
            assert_eq!(got.unwrap(), Some(()));
        }
    });
}

#[test]
fn a_delivery_of_one_signal_does_not_strand_a_listener_of_another() {
    let _serial = serial();
    run(async {
        // Two tasks in one loop wait for two signals through the loop's one wake-up socket.
        let usr1 = spawn(async { signal(libc::SIGUSR1).unwrap().recv().await });
        let usr2 = spawn(async { signal(libc::SIGUSR2).unwrap().recv().await });
        braid_executor::yield_now().await;
        for round in 0..3 {
            let winch = spawn(async { signal(libc::SIGWINCH).unwrap().recv().await });
            braid_executor::yield_now().await;
            // The one that completes does not look at the socket again; the others
            // must still be woken by what comes next.
            kill_self(libc::SIGWINCH);
            let got = guarded(&format!("round {round}"), winch).await;
            assert_eq!(got.unwrap(), Some(()));
        }
        kill_self(libc::SIGUSR2);
        let got = guarded("SIGUSR2 after other signals", usr2).await;
        assert_eq!(got.unwrap(), Some(()));
        kill_self(libc::SIGUSR1);
        let got = guarded("SIGUSR1 after other signals", usr1).await;
        assert_eq!(got.unwrap(), Some(()));
    });
}

#[test]
fn listeners_in_loops_on_several_threads_all_see_each_delivery() {
    let _serial = serial();
    const THREADS: usize = 3;
    const ROUNDS: usize = 5;
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let listeners: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let event_loop = EventLoop::new().unwrap();
                event_loop.block_on(async {
                    let mut urg = signal(libc::SIGURG).unwrap();
                    for _ in 0..ROUNDS {
                        // Blocks the loop on purpose: no task here needs it meanwhile.
                        barrier.wait();
                        received(&mut urg).await;
                    }
                });
            })
        })
        .collect();
    for _ in 0..ROUNDS {
        // Every thread has its listener and has seen the previous round.
        barrier.wait();
        kill_self(libc::SIGURG);
    }
    for listener in listeners {
        listener.join().unwrap();
    }
}

static CUSTOM_HANDLER_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn custom_handler(_: libc::c_int) {
    CUSTOM_HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn the_previous_handler_returns_when_the_last_listener_anywhere_goes() {
    let _serial = serial();
    let original = disposition(libc::SIGHUP);
    // SAFETY: all zeroes is a valid `sigaction`; the fields are then set.
    let mut custom: libc::sigaction = unsafe { std::mem::zeroed() };
    let handler: extern "C" fn(libc::c_int) = custom_handler;
    custom.sa_sigaction = handler as libc::sighandler_t;
    custom.sa_flags = libc::SA_RESTART | libc::SA_NODEFER;
    set_disposition(libc::SIGHUP, &custom);
    let installed = disposition(libc::SIGHUP);

    // One listener on another thread, held until told to go.
    let (ready_tx, ready) = mpsc::channel();
    let (go_tx, go) = mpsc::channel::<()>();
    let other = thread::spawn(move || {
        run(async {
            let listener = signal(libc::SIGHUP).unwrap();
            ready_tx.send(()).unwrap();
            go.recv().unwrap();
            drop(listener);
        })
    });
    ready.recv().unwrap();

    run(async {
        let mut first = signal(libc::SIGHUP).unwrap();
        let second = signal(libc::SIGHUP).unwrap();
        assert_ne!(disposition(libc::SIGHUP).sa_sigaction, handler as usize);
        raise(libc::SIGHUP);
        received(&mut first).await;
        drop((first, second));
    });
    // The other thread's listener is still there.
    assert_ne!(disposition(libc::SIGHUP).sa_sigaction, handler as usize);
    raise(libc::SIGHUP);
    assert_eq!(CUSTOM_HANDLER_CALLS.load(Ordering::SeqCst), 0);

    go_tx.send(()).unwrap();
    other.join().unwrap();
    let restored = disposition(libc::SIGHUP);
    assert_eq!(restored.sa_sigaction, installed.sa_sigaction);
    assert_eq!(restored.sa_flags, installed.sa_flags);
    raise(libc::SIGHUP);
    assert_eq!(CUSTOM_HANDLER_CALLS.load(Ordering::SeqCst), 1);

    set_disposition(libc::SIGHUP, &original);
}

#[test]
fn an_ignored_signal_is_ignored_again_afterwards() {
    let _serial = serial();
    // The Rust runtime ignores SIGPIPE.
    assert_eq!(disposition(libc::SIGPIPE).sa_sigaction, libc::SIG_IGN);
    run(async {
        let mut pipe = signal(libc::SIGPIPE).unwrap();
        raise(libc::SIGPIPE);
        received(&mut pipe).await;
    });
    assert_eq!(disposition(libc::SIGPIPE).sa_sigaction, libc::SIG_IGN);
}

#[test]
fn a_loop_dropped_with_a_waiting_task_puts_the_old_handler_back() {
    let _serial = serial();
    let before = disposition(libc::SIGVTALRM);
    let event_loop = EventLoop::new().unwrap();
    let waiting = event_loop.spawn(async {
        let mut listener = signal(libc::SIGVTALRM).unwrap();
        listener.recv().await
    });
    event_loop.block_on(braid_executor::yield_now());
    assert!(!waiting.is_finished());
    assert_ne!(
        disposition(libc::SIGVTALRM).sa_sigaction,
        before.sa_sigaction
    );
    drop(event_loop);
    assert_eq!(
        disposition(libc::SIGVTALRM).sa_sigaction,
        before.sa_sigaction
    );
}

#[test]
fn a_cancelled_wait_stops_listening() {
    let _serial = serial();
    let before = disposition(libc::SIGXCPU);
    run(async {
        let waiting = spawn(async { signal(libc::SIGXCPU).unwrap().recv().await });
        braid_executor::yield_now().await;
        assert_ne!(disposition(libc::SIGXCPU).sa_sigaction, before.sa_sigaction);
        waiting.cancel();
        assert!(guarded("cancel", waiting).await.unwrap_err().is_cancelled());
        assert_eq!(disposition(libc::SIGXCPU).sa_sigaction, before.sa_sigaction);
    });
}

#[test]
fn a_signal_is_a_stream_of_deliveries() {
    let _serial = serial();
    run(async {
        let mut alarms = signal(libc::SIGALRM).unwrap();
        for _ in 0..3 {
            raise(libc::SIGALRM);
            let next = guarded("stream", alarms.next()).await;
            assert_eq!(next, Some(()));
        }
        assert!(poll!(alarms.next()).is_pending());
    });
}

#[test]
fn signals_that_cannot_be_listened_for_are_invalid_input() {
    let _serial = serial();
    let refused = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        0,
        -1,
        -libc::SIGINT,
        1000,
        i32::MAX,
        i32::MIN,
    ];
    // Refused before a loop is even needed, and inside one.
    for signum in refused {
        let error = signal(signum).unwrap_err();
        assert_eq!(
            error.kind(),
            io::ErrorKind::InvalidInput,
            "{signum}: {error}"
        );
    }
    run(async {
        for signum in refused {
            let error = signal(signum).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::InvalidInput,
                "{signum}: {error}"
            );
        }
        let error = signal(libc::SIGKILL).unwrap_err();
        assert!(error.to_string().contains("SIGKILL"), "{error}");
        // A refusal left nothing behind: the loop still listens fine.
        let mut usr1 = signal(libc::SIGUSR1).unwrap();
        raise(libc::SIGUSR1);
        received(&mut usr1).await;
    });
}

/// glibc keeps the first two real-time signals for its threads and refuses handlers there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_signal_reserved_by_the_c_library_is_invalid_input() {
    let _serial = serial();
    run(async {
        let error = signal(32).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
    });
}

#[test]
#[should_panic(expected = "running braid event loop")]
fn a_listener_needs_a_running_loop() {
    let _serial = serial();
    let _ = signal(libc::SIGUSR1);
}

#[test]
#[should_panic(expected = "outside the running event loop")]
fn a_listener_polled_in_another_loop_panics() {
    let _serial = serial();
    let mut listener = EventLoop::new()
        .unwrap()
        .block_on(async { signal(libc::SIGUSR1).unwrap() });
    run(async move {
        listener.recv().await;
    });
}

#[cfg(target_os = "linux")]
#[test]
fn listeners_leave_no_descriptor_behind() {
    let _serial = serial();
    let event_loop = EventLoop::new().unwrap();
    // Let anything made once per loop or process exist before counting.
    event_loop.block_on(async {
        let mut warm_up = signal(libc::SIGUSR1).unwrap();
        raise(libc::SIGUSR1);
        received(&mut warm_up).await;
    });
    let before = open_descriptors();

    event_loop.block_on(async {
        for _ in 0..100 {
            drop(signal(libc::SIGUSR1).unwrap());
        }
        // Many at once, for several signals, then all dropped.
        let mut held = Vec::new();
        for signum in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH] {
            for _ in 0..10 {
                held.push(signal(signum).unwrap());
            }
        }
        raise(libc::SIGUSR2);
        received(&mut held[10]).await;
        drop(held);
        assert!(signal(libc::SIGKILL).is_err());
    });
    assert_eq!(open_descriptors(), before, "in a loop that stays");

    // Loops that come and go, each with listeners.
    for _ in 0..10 {
        run(async {
            let mut usr1 = signal(libc::SIGUSR1).unwrap();
            let _usr2 = signal(libc::SIGUSR2).unwrap();
            raise(libc::SIGUSR1);
            received(&mut usr1).await;
        });
    }
    assert_eq!(open_descriptors(), before, "with loops that come and go");
    drop(event_loop);
}
