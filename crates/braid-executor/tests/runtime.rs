//! One loop per core: where tasks run, how results come back, failures, serving TCP on
//! every loop, and shutting down.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::Duration;

use braid_executor::net::TcpStream;
use braid_executor::runtime::{loop_index, Balance, Runtime, SpawnOnError};
use braid_executor::{sleep, spawn, spawn_blocking};
use common::{within, DropFlag};
use futures::{AsyncReadExt, AsyncWriteExt};

const GUARD: Duration = Duration::from_secs(30);

fn two_loops() -> Runtime {
    Runtime::builder().loops(2).build().unwrap()
}

fn two_loops_balanced(balance: Balance) -> Runtime {
    Runtime::builder()
        .loops(2)
        .balance(balance)
        .build()
        .unwrap()
}

#[test]
fn spawn_on_runs_each_future_on_the_thread_of_its_loop() {
    within(GUARD, || {
        let rt = Runtime::builder()
            .loops(3)
            .thread_name("shard")
            .build()
            .unwrap();
        assert_eq!(rt.loops(), 3);
        let mut ids = Vec::new();
        for i in 0..3 {
            let task = rt
                .spawn_on(i, move || {
                    // Made on the loop's thread: an Rc is fine, and stays there.
                    let made_on = Rc::new(thread::current().id());
                    async move {
                        spawn(async {}).await.unwrap();
                        let polled_on = thread::current();
                        assert_eq!(*made_on, polled_on.id());
                        (
                            polled_on.name().map(str::to_owned),
                            polled_on.id(),
                            loop_index(),
                        )
                    }
                })
                .unwrap();
            let (name, id, index) = rt.block_on(task).unwrap();
            assert_eq!(name.as_deref(), Some(format!("shard-{i}").as_str()));
            assert_eq!(index, Some(i));
            assert_ne!(id, thread::current().id());
            ids.push(id);
        }
        ids.sort_unstable_by_key(|id| format!("{id:?}"));
        ids.dedup();
        assert_eq!(ids.len(), 3, "three loops, three threads");
        assert_eq!(loop_index(), None, "the test thread is no loop");
    });
}

#[test]
fn results_reach_a_plain_thread_and_a_task_on_another_loop() {
    within(GUARD, || {
        let rt = two_loops();
        let on_one = rt
            .spawn_on(1, || async {
                sleep(Duration::from_millis(5)).await;
                loop_index().unwrap() * 100 + 7
            })
            .unwrap();
        // Awaited by a task on loop 0.
        let relay = rt
            .spawn_on(
                0,
                move || async move { (loop_index(), on_one.await.unwrap()) },
            )
            .unwrap();
        // Waited for by a plain thread that runs no loop at all.
        let waiter = thread::spawn(move || futures::executor::block_on(relay));
        assert_eq!(waiter.join().unwrap().unwrap(), (Some(0), 107));
    });
}

#[test]
fn runtime_is_shared_across_threads_and_its_tasks_spawn_onto_any_loop() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Runtime>();
    send::<braid_executor::runtime::Server>();
    within(GUARD, || {
        let rt = Arc::new(two_loops());
        let task = rt
            .spawn_on(0, {
                let rt = rt.clone();
                move || async move {
                    let here = thread::current().id();
                    let there = rt.spawn_on(1, || async { loop_index() }).unwrap();
                    // Onto its own loop: runs on this very thread.
                    let same = rt.spawn_on(0, || async { thread::current().id() }).unwrap();
                    (there.await.unwrap(), same.await.unwrap() == here)
                }
            })
            .unwrap();
        assert_eq!(rt.block_on(task).unwrap(), (Some(1), true));
    });
}

#[test]
fn round_robin_spawn_and_handles_reach_every_loop() {
    within(GUARD, || {
        let rt = two_loops();
        let tasks: Vec<_> = (0..4)
            .map(|_| rt.spawn(async { loop_index().unwrap() }).unwrap())
            .collect();
        let mut seen: Vec<usize> = tasks
            .into_iter()
            .map(|task| rt.block_on(task).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 0, 1, 1]);

        let handle = rt.handle(1).unwrap();
        let task = handle.spawn(async { loop_index() }).unwrap();
        assert_eq!(rt.block_on(task).unwrap(), Some(1));
        assert!(rt.handle(2).is_none());
    });
}

#[test]
fn block_on_runs_on_the_calling_thread_with_a_loop_of_its_own() {
    within(GUARD, || {
        let rt = two_loops();
        let local = Rc::new(Cell::new(0)); // neither Send nor 'static-bound: borrowed below
        let caller = thread::current().id();
        let ran_on = rt.block_on(async {
            let inner = spawn({
                let local = local.clone();
                async move { local.set(local.get() + 1) }
            });
            inner.await.unwrap();
            local.set(local.get() + 1);
            thread::current().id()
        });
        assert_eq!(ran_on, caller);
        assert_eq!(local.get(), 2);
    });
}

#[test]
fn block_on_from_a_task_panics_instead_of_stalling_the_loop() {
    within(GUARD, || {
        let rt = Arc::new(two_loops());
        let nested = rt
            .spawn_on(0, {
                let rt = rt.clone();
                move || async move { rt.block_on(async {}) }
            })
            .unwrap();
        let panic = rt.block_on(nested).unwrap_err().into_panic();
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(
            message.contains("inside a running braid event loop"),
            "{message}"
        );
        // The loop serves on.
        let later = rt.spawn_on(0, || async { loop_index() }).unwrap();
        assert_eq!(rt.block_on(later).unwrap(), Some(0));
    });
}

#[test]
fn the_loops_share_one_blocking_pool() {
    within(GUARD, || {
        let rt = Runtime::builder()
            .loops(2)
            .blocking_threads(1)
            .build()
            .unwrap();
        let mut threads = Vec::new();
        for i in 0..2 {
            let task = rt
                .spawn_on(i, || async {
                    spawn_blocking(|| thread::current().id()).await.unwrap()
                })
                .unwrap();
            threads.push(rt.block_on(task).unwrap());
        }
        // One thread in the pool: both loops' blocking work ran on it.
        assert_eq!(threads[0], threads[1]);
        let from_block_on = rt.block_on(async { spawn_blocking(|| thread::current().id()).await });
        assert_eq!(from_block_on.unwrap(), threads[0]);
    });
}

#[test]
fn a_panicking_task_gives_its_join_error_and_the_loop_serves_on() {
    within(GUARD, || {
        let rt = two_loops();
        let in_future = rt
            .spawn_on(1, || async { panic!("boom in the future") })
            .unwrap();
        assert!(rt.block_on(in_future).unwrap_err().is_panic());
        let make = || -> std::future::Ready<()> { panic!("boom while making the future") };
        let in_closure = rt.spawn_on(1, make).unwrap();
        assert!(rt.block_on(in_closure).unwrap_err().is_panic());

        // The same from a task on that loop, where spawn_on spawns directly.
        let rt = Arc::new(rt);
        let from_inside = rt
            .spawn_on(1, {
                let rt = rt.clone();
                move || async move { rt.spawn_on(1, make).unwrap().await }
            })
            .unwrap();
        assert!(rt.block_on(from_inside).unwrap().unwrap_err().is_panic());

        let later = rt.spawn_on(1, || async { loop_index() }).unwrap();
        assert_eq!(rt.block_on(later).unwrap(), Some(1));
    });
}

#[test]
fn an_out_of_range_loop_index_is_an_error_and_the_closure_is_dropped() {
    within(GUARD, || {
        let rt = two_loops();
        let (flag, dropped) = DropFlag::new();
        let ran = Arc::new(AtomicBool::new(false));
        let result = rt.spawn_on(2, {
            let ran = ran.clone();
            move || {
                ran.store(true, Ordering::SeqCst);
                let _flag = flag;
                async {}
            }
        });
        let error = result.unwrap_err();
        assert_eq!(error, SpawnOnError::NoSuchLoop { index: 2, loops: 2 });
        let message = error.to_string();
        assert!(message.contains("no loop 2"), "{message}");
        assert!(message.contains("0 to 1"), "{message}");
        assert!(dropped.load(Ordering::SeqCst));
        assert!(!ran.load(Ordering::SeqCst));
    });
}

#[test]
fn bad_builder_settings_are_errors() {
    let error = Runtime::builder().loops(0).build().unwrap_err();
    assert!(error.is_invalid_setting(), "{error:?}");
    assert!(error.to_string().contains("at least 1 loop"), "{error}");
    assert_eq!(io::Error::from(error).kind(), io::ErrorKind::InvalidInput);

    let error = Runtime::builder()
        .loops(1)
        .blocking_threads(0)
        .build()
        .unwrap_err();
    assert!(error.is_invalid_setting(), "{error:?}");

    let error = Runtime::builder()
        .loops(1)
        .thread_name("bad\0name")
        .build()
        .unwrap_err();
    assert!(error.is_invalid_setting(), "{error:?}");

    if !cfg!(target_os = "linux") {
        let error = Runtime::builder()
            .loops(1)
            .balance(Balance::ReusePort)
            .build()
            .unwrap_err();
        assert!(error.is_unsupported(), "{error:?}");
        assert_eq!(io::Error::from(error).kind(), io::ErrorKind::Unsupported);
    }
}

#[test]
fn shutdown_cancels_sleeping_tasks_on_their_threads_and_joins_the_threads() {
    thread_local! {
        static EXIT_FLAG: Cell<Option<DropFlag>> = const { Cell::new(None) };
    }
    within(GUARD, || {
        let rt = two_loops();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let mut task_flags = Vec::new();
        let mut thread_flags = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..2 {
            let (flag, dropped) = DropFlag::new();
            let (exit, exited) = DropFlag::new();
            task_flags.push(dropped);
            thread_flags.push(exited);
            let started = started_tx.clone();
            let dropped_on = Arc::new(Mutex::new(None));
            let task = rt
                .spawn_on(i, {
                    let dropped_on = dropped_on.clone();
                    move || {
                        // Set when the loop thread exits: proves it was joined.
                        EXIT_FLAG.set(Some(exit));
                        let guard = OnDrop(Some(move || {
                            *dropped_on.lock().unwrap() = loop_index();
                            drop(flag);
                        }));
                        async move {
                            let _guard = guard;
                            started.send(()).unwrap();
                            sleep(Duration::from_secs(3600)).await;
                        }
                    }
                })
                .unwrap();
            tasks.push((task, dropped_on));
        }
        started_rx.recv().unwrap();
        started_rx.recv().unwrap();
        rt.shutdown();
        for (i, (task, dropped_on)) in tasks.into_iter().enumerate() {
            assert!(task.is_finished());
            assert!(futures::executor::block_on(task)
                .unwrap_err()
                .is_cancelled());
            assert_eq!(
                *dropped_on.lock().unwrap(),
                Some(i),
                "dropped on its own loop"
            );
            assert!(task_flags[i].load(Ordering::SeqCst));
            assert!(
                thread_flags[i].load(Ordering::SeqCst),
                "loop thread {i} joined"
            );
        }
    });
}

/// Runs its closure when dropped.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

#[test]
fn dropping_the_runtime_from_its_own_task_lets_that_loop_end_without_deadlock() {
    within(GUARD, || {
        let slot = Arc::new(Mutex::new(Some(two_loops())));
        let rt_guard = slot.lock().unwrap();
        let rt = rt_guard.as_ref().unwrap();
        let (sleeper_flag, sleeper_dropped) = DropFlag::new();
        let sleeper = rt
            .spawn_on(1, move || async move {
                let _flag = sleeper_flag;
                sleep(Duration::from_secs(3600)).await;
            })
            .unwrap();
        let (other_flag, other_dropped) = DropFlag::new();
        let other = rt
            .spawn_on(0, move || async move {
                let _flag = other_flag;
                sleep(Duration::from_secs(3600)).await;
            })
            .unwrap();
        let dropper = rt
            .spawn_on(1, {
                let slot = slot.clone();
                move || async move {
                    let rt = slot.lock().unwrap().take().unwrap();
                    drop(rt); // joins loop 0, lets loop 1 (this one) go
                    "dropped"
                }
            })
            .unwrap();
        drop(rt_guard);
        assert_eq!(futures::executor::block_on(dropper).unwrap(), "dropped");
        // Loop 0 was joined before the drop returned; loop 1 ends when the task returned.
        assert!(other.is_finished());
        assert!(other_dropped.load(Ordering::SeqCst));
        assert!(futures::executor::block_on(sleeper)
            .unwrap_err()
            .is_cancelled());
        assert!(sleeper_dropped.load(Ordering::SeqCst));
    });
}

/// A waker that panics when woken, to kill the loop thread that wakes it.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics (on purpose, to end a loop thread)");
    }
}

/// Ends the thread of loop `index` and waits until it is gone.
fn kill_loop(rt: &Runtime, index: usize) {
    // A timer whose waker panics: the loop thread calls it outside any task and dies.
    rt.spawn_on(index, || async {
        let mut timer = pin!(sleep(Duration::from_millis(1)));
        let waker = Waker::from(Arc::new(PanickingWaker));
        assert!(timer
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        std::future::pending::<()>().await;
    })
    .unwrap()
    .detach();
    let handle = rt.handle(index).unwrap();
    while !handle.is_closed() {
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_dead_loop_thread_gives_errors_not_hangs() {
    within(GUARD, || {
        let rt = two_loops();
        kill_loop(&rt, 1);
        assert_eq!(
            rt.spawn_on(1, || async {}).unwrap_err(),
            SpawnOnError::LoopEnded { index: 1 }
        );
        let fine = rt.spawn_on(0, || async { loop_index() }).unwrap();
        assert_eq!(rt.block_on(fine).unwrap(), Some(0));
        rt.shutdown();
    });
}

/// Connects `count` clients from a few plain threads; each sends a line and checks the echo.
fn echo_clients(addr: std::net::SocketAddr, count: usize) {
    let threads = 8;
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                for c in (t..count).step_by(threads) {
                    let mut stream = std::net::TcpStream::connect(addr).unwrap();
                    let message = format!("hello from client {c}");
                    stream.write_all(message.as_bytes()).unwrap();
                    stream.shutdown(std::net::Shutdown::Write).unwrap();
                    let mut echo = String::new();
                    stream.read_to_string(&mut echo).unwrap();
                    assert_eq!(echo, message);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

/// Serves an echo that counts, per loop, the connections it handled.
fn echo_server(rt: &Runtime, served: &Arc<[AtomicUsize; 2]>) -> braid_executor::runtime::Server {
    let served = served.clone();
    rt.serve("127.0.0.1:0", move |mut stream: TcpStream| {
        let served = served.clone();
        // Per-connection state that is not Send.
        let bytes = Rc::new(Cell::new(0));
        async move {
            let mut received = Vec::new();
            stream.read_to_end(&mut received).await?;
            // Counted before the echo goes out, so a client that got its echo was counted.
            served[loop_index().unwrap()].fetch_add(1, Ordering::SeqCst);
            bytes.set(received.len());
            stream.write_all(&received).await?;
            stream.close().await?;
            io::Result::Ok(bytes.get())
        }
    })
    .unwrap()
}

#[test]
fn serve_echoes_for_200_clients_with_the_default_balance() {
    within(Duration::from_secs(60), || {
        let rt = two_loops();
        let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let server = echo_server(&rt, &served);
        echo_clients(server.local_addr(), 200);
        // The kernel's hash may send them all to one loop: only the sum is certain.
        let total: usize = served.iter().map(|n| n.load(Ordering::SeqCst)).sum();
        assert_eq!(total, 200);
        server.stop();
        rt.shutdown();
    });
}

/// A runtime's loops yield before they sleep unless told not to, and one told not to never
/// does.
#[test]
fn a_runtimes_loops_yield_before_sleeping_unless_told_not_to() {
    within(GUARD, || {
        for (builder, yields) in [
            (Runtime::builder(), true),
            (Runtime::builder().yield_before_sleep(true), true),
            (Runtime::builder().yield_before_sleep(false), false),
        ] {
            let rt = builder.loops(2).build().unwrap();
            for index in 0..2 {
                let metrics = rt
                    .spawn_on(index, || async {
                        for _ in 0..5 {
                            sleep(Duration::from_millis(3)).await;
                        }
                        braid_executor::metrics()
                    })
                    .unwrap();
                let metrics = rt.block_on(metrics).unwrap();
                assert_eq!(metrics.yields > 0, yields, "loop {index}: {metrics:?}");
            }
            rt.shutdown();
        }
    });
}

#[test]
fn loops_that_never_yield_before_sleeping_serve_200_clients_and_fire_timers() {
    within(Duration::from_secs(60), || {
        let rt = Runtime::builder()
            .loops(2)
            .balance(Balance::RoundRobin)
            .yield_before_sleep(false)
            .build()
            .unwrap();
        let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let server = echo_server(&rt, &served);
        echo_clients(server.local_addr(), 200);
        assert_eq!(served[0].load(Ordering::SeqCst), 100);
        assert_eq!(served[1].load(Ordering::SeqCst), 100);
        // With no socket busy, the loop sleeps until its timer is due.
        let slept = rt
            .spawn_on(1, || async {
                let start = std::time::Instant::now();
                braid_executor::sleep(Duration::from_millis(20)).await;
                start.elapsed()
            })
            .unwrap();
        assert!(rt.block_on(slept).unwrap() >= Duration::from_millis(20));
        server.stop();
        rt.shutdown();
    });
}

#[test]
fn serve_round_robin_deals_connections_evenly() {
    within(Duration::from_secs(60), || {
        let rt = two_loops_balanced(Balance::RoundRobin);
        let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let server = echo_server(&rt, &served);
        echo_clients(server.local_addr(), 200);
        assert_eq!(served[0].load(Ordering::SeqCst), 100);
        assert_eq!(served[1].load(Ordering::SeqCst), 100);
    });
}

#[test]
fn a_panicking_connection_handler_ends_only_its_connection() {
    for balance in [Balance::default(), Balance::RoundRobin] {
        within(GUARD, move || {
            let rt = two_loops_balanced(balance);
            let server = rt
                .serve("127.0.0.1:0", |stream: TcpStream| async move {
                    let mut byte = [0];
                    stream.recv(&mut byte).await.unwrap();
                    assert_ne!(&byte, b"!", "the client asked for a panic");
                    stream.send_all(&byte).await.unwrap();
                })
                .unwrap();
            for _ in 0..4 {
                let mut doomed = std::net::TcpStream::connect(server.local_addr()).unwrap();
                doomed.write_all(b"!").unwrap();
                // The handler panicked, its task dropped the stream: end of file.
                assert_eq!(doomed.read(&mut [0]).unwrap_or(0), 0);
                let mut fine = std::net::TcpStream::connect(server.local_addr()).unwrap();
                fine.write_all(b"x").unwrap();
                let mut reply = [0];
                fine.read_exact(&mut reply).unwrap();
                assert_eq!(&reply, b"x");
            }
        });
    }
}

#[test]
fn a_stopped_server_refuses_connections_and_its_connections_carry_on() {
    for balance in [Balance::default(), Balance::RoundRobin] {
        within(GUARD, move || {
            let rt = two_loops_balanced(balance);
            let server = rt
                .serve("127.0.0.1:0", |stream: TcpStream| async move {
                    let mut buf = [0; 16];
                    loop {
                        match stream.recv(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => stream.send_all(&buf[..n]).await.unwrap(),
                        }
                    }
                })
                .unwrap();
            let addr = server.local_addr();
            let mut open = std::net::TcpStream::connect(addr).unwrap();
            open.write_all(b"before").unwrap();
            let mut reply = [0; 6];
            open.read_exact(&mut reply).unwrap();

            server.stop();
            let refused = std::net::TcpStream::connect(addr).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

            open.write_all(b"after!").unwrap();
            open.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"after!");
        });
    }
}

#[test]
fn serve_on_a_taken_port_is_addr_in_use() {
    within(GUARD, || {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        for balance in [Balance::default(), Balance::RoundRobin] {
            let rt = two_loops_balanced(balance);
            let error = rt
                .serve(taken.local_addr().unwrap(), |_stream| async {})
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        }
    });
}

#[test]
fn a_server_stopped_from_a_task_stops_without_deadlock() {
    within(GUARD, || {
        let rt = two_loops();
        let server = rt.serve("127.0.0.1:0", |_stream| async {}).unwrap();
        let addr = server.local_addr();
        let stopper = rt
            .spawn_on(1, move || async move { server.stop() })
            .unwrap();
        rt.block_on(stopper).unwrap();
        // From a task it only asks; the listeners close as their loops turn.
        while std::net::TcpStream::connect(addr).is_ok() {
            thread::sleep(Duration::from_millis(5));
        }
    });
}

#[test]
fn a_server_keeps_serving_every_client_when_a_loop_dies() {
    for balance in [Balance::default(), Balance::RoundRobin] {
        for die_after_serve in [false, true] {
            within(GUARD, move || {
                let rt = two_loops_balanced(balance);
                if !die_after_serve {
                    kill_loop(&rt, 1);
                }
                let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
                let server = echo_server(&rt, &served);
                if die_after_serve {
                    kill_loop(&rt, 1);
                }
                // None is dealt to the dead loop and dropped there.
                echo_clients(server.local_addr(), 20);
                assert_eq!(served[0].load(Ordering::SeqCst), 20, "{balance:?}");
            });
        }
    }
}
