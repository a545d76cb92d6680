//! Spawning, awaiting, panics, cancellation and the end of a loop.

mod common;

use std::cell::Cell;
use std::future::{pending, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use braid_executor::{run, sleep, spawn, timeout, yield_now, EventLoop};
use common::{within, DropCount, DropFlag};

#[test]
fn spawned_tasks_return_their_output() {
    let total = run(async {
        let tasks: Vec<_> = (0..1000u64).map(|i| spawn(async move { i * 2 })).collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, 999 * 1000);
}

#[test]
fn non_send_futures_can_be_spawned() {
    run(async {
        let counter = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let counter = counter.clone();
                spawn(async move {
                    yield_now().await;
                    counter.set(counter.get() + 1);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(counter.get(), 10);
    });
}

#[test]
fn a_panicking_task_gives_join_error_and_others_go_on() {
    run(async {
        let before = spawn(async {
            yield_now().await;
            1
        });
        let bad = spawn(async {
            yield_now().await;
            panic!("task failed on purpose");
        });
        let after = spawn(async {
            yield_now().await;
            yield_now().await;
            2
        });
        let error = bad.await.unwrap_err();
        assert!(error.is_panic());
        assert!(!error.is_cancelled());
        assert!(
            error.to_string().contains("task failed on purpose"),
            "{error}"
        );
        assert_eq!(
            *error.into_panic().downcast::<&str>().unwrap(),
            "task failed on purpose"
        );
        assert_eq!(before.await.unwrap(), 1);
        assert_eq!(after.await.unwrap(), 2);
        // The loop still spawns and runs tasks.
        assert_eq!(spawn(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn cancel_drops_the_future_at_its_await_point() {
    run(async {
        let (flag, dropped) = DropFlag::new();
        let reached = Rc::new(Cell::new(false));
        let after_await = Rc::new(Cell::new(false));
        let (r, a) = (reached.clone(), after_await.clone());
        let task = spawn(async move {
            let _flag = flag;
            r.set(true);
            sleep(Duration::from_secs(3600)).await;
            a.set(true);
        });
        // Let it reach its await point.
        yield_now().await;
        assert!(reached.get());
        assert!(!task.is_finished());
        assert!(task.cancel());
        assert!(
            !task.cancel(),
            "a second cancel reports it was already asked"
        );
        let error = task.await.unwrap_err();
        assert!(error.is_cancelled());
        assert!(
            dropped.load(Ordering::SeqCst),
            "the destructor ran before the awaiter saw Cancelled"
        );
        assert!(
            !after_await.get(),
            "the future never went past its await point"
        );
    });
}

#[test]
fn cancel_before_the_first_poll_never_runs_the_future() {
    run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let task = spawn(async move { r.set(true) });
        assert!(task.cancel());
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(!ran.get());
    });
}

#[test]
fn cancel_after_completion_keeps_the_output() {
    run(async {
        let task = spawn(async { 5 });
        yield_now().await;
        assert!(task.is_finished());
        assert!(!task.cancel());
        assert_eq!(task.await.unwrap(), 5);
    });
}

#[test]
fn cancel_from_another_thread_wakes_the_awaiter() {
    within(Duration::from_secs(30), || {
        run(async {
            let (flag, dropped) = DropFlag::new();
            let task = spawn(async move {
                let _flag = flag;
                pending::<()>().await;
            });
            yield_now().await;
            // `Task` of a `Send` output can travel; cancel it from elsewhere and get it back.
            let task = std::thread::spawn(move || {
                assert!(task.cancel());
                task
            })
            .join()
            .unwrap();
            assert!(task.await.unwrap_err().is_cancelled());
            assert!(dropped.load(Ordering::SeqCst));
        });
    });
}

#[test]
fn timeout_drops_the_inner_future_and_reports_elapsed() {
    run(async {
        let (flag, dropped) = DropFlag::new();
        let slow = async move {
            let _flag = flag;
            sleep(Duration::from_secs(3600)).await;
        };
        let error = timeout(Duration::from_millis(5), slow).await.unwrap_err();
        assert!(
            dropped.load(Ordering::SeqCst),
            "dropped before Elapsed was returned"
        );
        assert!(error.to_string().contains("deadline"));
        assert_eq!(timeout(Duration::from_secs(60), async { 9 }).await, Ok(9));
    });
}

#[test]
fn a_timeout_inside_a_cancelled_task_does_not_swallow_the_cancel() {
    run(async {
        let (flag, dropped) = DropFlag::new();
        let observed = Rc::new(Cell::new("nothing"));
        let o = observed.clone();
        let task = spawn(async move {
            let _flag = flag;
            match timeout(Duration::from_secs(3600), pending::<()>()).await {
                Ok(()) => o.set("value"),
                Err(_) => o.set("elapsed"),
            }
            sleep(Duration::from_secs(3600)).await;
        });
        yield_now().await;
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(
            observed.get(),
            "nothing",
            "the cancel was not turned into a timeout result"
        );
    });
}

#[test]
fn dropping_a_task_handle_detaches_it() {
    within(Duration::from_secs(30), || {
        run(async {
            let finished = Rc::new(Cell::new(0));
            let f = finished.clone();
            drop(spawn(async move {
                sleep(Duration::from_millis(2)).await;
                f.set(f.get() + 1);
            }));
            let f = finished.clone();
            spawn(async move {
                yield_now().await;
                f.set(f.get() + 1);
            })
            .detach();
            // Nothing awaits them, yet both run to the end.
            while finished.get() < 2 {
                sleep(Duration::from_millis(1)).await;
            }
        });
    });
}

#[test]
fn the_end_of_run_cancels_and_drops_every_task() {
    let drops = Arc::new(AtomicUsize::new(0));
    let inner = drops.clone();
    run(async move {
        for i in 0..100 {
            let guard = DropCount(inner.clone());
            spawn(async move {
                let _guard = guard;
                if i % 2 == 0 {
                    sleep(Duration::from_secs(3600)).await;
                } else {
                    pending::<()>().await;
                }
            })
            .detach();
        }
        // Some never got polled, some wait: all must go.
        yield_now().await;
        let guard = DropCount(inner.clone());
        spawn(async move {
            let _guard = guard;
        })
        .detach();
    });
    assert_eq!(drops.load(Ordering::SeqCst), 101);
}

#[test]
fn alive_count_drops_to_zero() {
    let event_loop = EventLoop::new().unwrap();
    let (flag, dropped) = DropFlag::new();
    let sleeper = event_loop.spawn(async move {
        let _flag = flag;
        sleep(Duration::from_secs(3600)).await;
    });
    event_loop.block_on(async {
        for _ in 0..10 {
            spawn(async { yield_now().await }).detach();
        }
        yield_now().await;
    });
    assert!(event_loop.metrics().tasks_alive >= 1);
    event_loop.block_on(async {
        sleep(Duration::from_millis(5)).await;
    });
    assert_eq!(
        event_loop.metrics().tasks_alive,
        1,
        "only the sleeper is left"
    );
    sleeper.cancel();
    let result = event_loop.block_on(sleeper);
    assert!(result.unwrap_err().is_cancelled());
    assert!(dropped.load(Ordering::SeqCst));
    let metrics = event_loop.metrics();
    assert_eq!(metrics.tasks_alive, 0);
    assert_eq!(metrics.tasks_spawned, 11);
}

#[test]
fn dropping_the_loop_drops_pending_futures_and_finishes_handles() {
    let event_loop = EventLoop::new().unwrap();
    let (flag, dropped) = DropFlag::new();
    let task = event_loop.spawn(async move {
        let _flag = flag;
        pending::<u8>().await
    });
    event_loop.block_on(yield_now());
    drop(event_loop);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(task.is_finished());
    // Awaiting it elsewhere reports the cancel instead of hanging.
    let other = EventLoop::new().unwrap();
    assert!(other.block_on(task).unwrap_err().is_cancelled());
}

/// Wakes itself on every poll, forever.
struct Spinner(Rc<Cell<u64>>);

impl Future for Spinner {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.set(self.0.get() + 1);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_self_waking_task_does_not_starve_timers_or_other_tasks() {
    within(Duration::from_secs(30), || {
        run(async {
            let spins = Rc::new(Cell::new(0));
            let spinner = spawn(Spinner(spins.clone()));
            // A timer fires and another task runs while the spinner never stops.
            sleep(Duration::from_millis(10)).await;
            let other = spawn(async { 7 });
            assert_eq!(other.await.unwrap(), 7);
            assert!(spins.get() > 0);
            spinner.cancel();
        });
    });
}

#[test]
fn a_slow_poll_is_counted() {
    let event_loop = EventLoop::builder()
        .slow_poll_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    event_loop.block_on(async {
        spawn(async { std::thread::sleep(Duration::from_millis(50)) })
            .await
            .unwrap();
    });
    assert!(event_loop.metrics().slow_polls >= 1);
}

/// The future given to `block_on` is timed like a task. `sleep` lasts at least 20 ms, so the
/// one poll it blocks is over a 1 ms threshold whatever the machine's load (and whatever the
/// coarse clock's resolution); the main future is polled once and nothing else runs, so
/// nothing else can be counted.
#[test]
fn a_slow_poll_of_the_main_future_is_counted() {
    let event_loop = EventLoop::builder()
        .slow_poll_threshold(Duration::from_millis(1))
        .build()
        .unwrap();
    event_loop.block_on(async { std::thread::sleep(Duration::from_millis(20)) });
    assert_eq!(event_loop.metrics().slow_polls, 1);
}

#[test]
fn wakes_from_other_threads_reach_the_loop() {
    within(Duration::from_secs(30), || {
        run(async {
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    spawn(async move {
                        let (tx, rx) = futures::channel::oneshot::channel();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(1));
                            tx.send(i).unwrap();
                        });
                        rx.await.unwrap()
                    })
                })
                .collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            assert_eq!(sum, 49 * 50 / 2);
        });
    });
}

/// Asks the answering thread `rounds` times, waiting for each answer before the next
/// question; returns the sum of the answers.
async fn ask(
    questions: std::sync::mpsc::Sender<futures::channel::oneshot::Sender<u32>>,
    rounds: u32,
) -> u32 {
    let mut sum = 0;
    for _ in 0..rounds {
        let (answer, answered) = futures::channel::oneshot::channel();
        questions.send(answer).unwrap();
        sum += answered.await.unwrap();
    }
    sum
}

#[test]
fn wakes_racing_the_loop_into_its_sleep_are_never_lost() {
    race_wakes_against_sleep(false);
}

#[test]
fn wakes_racing_a_loop_that_yields_before_sleeping_are_never_lost() {
    race_wakes_against_sleep(true);
}

/// Each round the loop runs out of work while the other thread answers, so the answer's
/// wake lands at every step of the loop's way into the poller: before it looks at its
/// flags, between that and its wait (and around the yield and the look that follows it, with
/// `yield_before_sleep`), or once it sleeps. A lost wake hangs the loop and the guard fails
/// the test.
fn race_wakes_against_sleep(yield_before_sleep: bool) {
    within(Duration::from_secs(60), move || {
        let (questions, asked) =
            std::sync::mpsc::channel::<futures::channel::oneshot::Sender<u32>>();
        let answerer = std::thread::spawn(move || {
            for answer in asked {
                answer.send(1).unwrap();
            }
        });
        let event_loop = EventLoop::builder()
            .yield_before_sleep(yield_before_sleep)
            .build()
            .unwrap();
        let sums = event_loop.block_on(async move {
            // The future given to `block_on` is woken through its own flag, a task through
            // the remote queue: both ways are raced.
            let task = spawn(ask(questions.clone(), 10_000));
            let main = ask(questions, 10_000).await;
            (main, task.await.unwrap())
        });
        assert_eq!(sums, (10_000, 10_000));
        answerer.join().unwrap();
    });
}

#[test]
fn handle_spawns_from_other_threads_and_fails_after_the_loop_ends() {
    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let handle = event_loop.handle();
        let results = event_loop.block_on(async move {
            let workers: Vec<_> = (0..4)
                .map(|i| {
                    let handle = handle.clone();
                    std::thread::spawn(move || handle.spawn(async move { i * 10 }).unwrap())
                })
                .collect();
            let mut results = Vec::new();
            for worker in workers {
                let task = worker.join().unwrap();
                results.push(task.await.unwrap());
            }
            results
        });
        assert_eq!(results, vec![0, 10, 20, 30]);
        let handle = event_loop.handle();
        assert!(!handle.is_closed());
        drop(event_loop);
        assert!(handle.is_closed());
        let (flag, dropped) = DropFlag::new();
        let error = handle
            .spawn(async move {
                let _flag = flag;
            })
            .unwrap_err();
        assert!(
            dropped.load(Ordering::SeqCst),
            "the refused future is dropped"
        );
        assert!(error.to_string().contains("ended"));
    });
}

#[test]
fn handle_tasks_queued_when_the_loop_ends_are_dropped() {
    let event_loop = EventLoop::new().unwrap();
    let (flag, dropped) = DropFlag::new();
    let task = event_loop
        .handle()
        .spawn(async move {
            let _flag = flag;
        })
        .unwrap();
    drop(event_loop);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(task.is_finished());
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn spawn_outside_a_loop_panics() {
    spawn(async {}).detach();
}

#[test]
#[should_panic(expected = "inside a running braid event loop")]
fn block_on_inside_a_loop_panics() {
    run(async {
        EventLoop::new().unwrap().block_on(async {});
    });
}

#[test]
fn the_loop_is_usable_after_block_on_panics() {
    let event_loop = EventLoop::new().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        event_loop.block_on(async { panic!("main future failed") })
    }));
    assert!(outcome.is_err());
    assert_eq!(
        event_loop.block_on(async { spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[test]
fn handles_and_errors_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<braid_executor::Handle>();
    send_sync::<braid_executor::JoinError>();
    send_sync::<braid_executor::SpawnError>();
    send_sync::<braid_executor::Elapsed>();
    send::<braid_executor::Task<u8>>();
    send::<braid_executor::Sleep>();
    send::<braid_executor::Timeout<braid_executor::Sleep>>();
    // Wakers of tasks are Send + Sync by the std contract; prove one wakes from a thread.
    run(async {
        let task = spawn(std::future::poll_fn(|cx| {
            let waker = cx.waker().clone();
            std::thread::spawn(move || waker.wake());
            Poll::Ready(())
        }));
        task.await.unwrap();
    });
}

/// Spawns `count` tasks that yield a varying number of times, so that they finish at
/// different moments of whatever another thread does with their handles meanwhile.
fn spawn_staggered<T: 'static>(
    count: usize,
    output: impl Fn(usize) -> T + 'static,
) -> Vec<braid_executor::Task<T>> {
    let output = Rc::new(output);
    (0..count)
        .map(|i| {
            let output = output.clone();
            spawn(async move {
                for _ in 0..i % 4 {
                    yield_now().await;
                }
                output(i)
            })
        })
        .collect()
}

#[test]
fn tasks_finishing_while_another_thread_awaits_them_wake_it() {
    within(Duration::from_secs(60), || {
        run(async {
            for _ in 0..20 {
                let tasks = spawn_staggered(100, |i| i);
                let (done, finished) = futures::channel::oneshot::channel();
                // The other thread registers its waker while the loop completes the tasks; a
                // lost wake leaves it blocked and the hang guard fails the test.
                std::thread::spawn(move || {
                    let sum: usize = tasks
                        .into_iter()
                        .map(|task| futures::executor::block_on(task).unwrap())
                        .sum();
                    done.send(sum).unwrap();
                });
                assert_eq!(finished.await.unwrap(), 99 * 100 / 2);
            }
        });
    });
}

#[test]
fn handles_dropped_on_another_thread_while_tasks_finish_drop_each_output_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counted = drops.clone();
    within(Duration::from_secs(60), move || {
        run(async move {
            let made = Rc::new(Cell::new(0));
            for _ in 0..20 {
                let (counted, made) = (counted.clone(), made.clone());
                let tasks = spawn_staggered(100, move |_| {
                    made.set(made.get() + 1);
                    DropCount(counted.clone())
                });
                let (done, finished) = futures::channel::oneshot::channel();
                std::thread::spawn(move || {
                    let waker = futures::task::noop_waker();
                    let mut cx = Context::from_waker(&waker);
                    for (i, mut task) in tasks.into_iter().enumerate() {
                        // Half are polled once first, so the loop also has an awaiter to
                        // wake while the handle goes away.
                        if i % 2 == 0 {
                            let _ = Pin::new(&mut task).poll(&mut cx);
                        }
                        drop(task);
                    }
                    done.send(()).unwrap();
                });
                finished.await.unwrap();
            }
            // Let every task finish: the end of the loop would cancel those still running.
            while made.get() < 20 * 100 {
                yield_now().await;
            }
        });
    });
    // Dropped by the loop or by the handle, never both, never neither.
    assert_eq!(drops.load(Ordering::SeqCst), 20 * 100);
}

/// A loop with a task in each state, seen from the loop's owner between runs, from another
/// thread while one task blocks the loop, and from another thread while the loop runs. No
/// timing: the blocking task waits on a channel that the observing thread releases only
/// after it has looked, and the loop then waits for a flag that the thread sets after its
/// second look.
#[test]
fn tasks_lists_every_live_task_with_its_state() {
    use braid_executor::{TaskInfo, TaskState};
    use std::sync::atomic::AtomicBool;

    within(Duration::from_secs(30), || {
        let event_loop = EventLoop::new().unwrap();
        let handle = event_loop.handle();
        let line = line!() + 1;
        let waiting = event_loop.spawn(pending::<()>());
        event_loop.block_on(yield_now());

        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let blocker_line = line!() + 1;
        let blocker = event_loop.spawn(async move {
            started_tx.send(()).unwrap();
            released.recv().unwrap();
        });
        let queued = event_loop.spawn(async {});

        let before = event_loop.tasks();
        assert!(before.is_complete());
        let states: Vec<(u64, TaskState, u64)> =
            before.iter().map(|t| (t.id, t.state, t.polls)).collect();
        assert_eq!(
            states,
            [
                (1, TaskState::Waiting, 1),
                (2, TaskState::Scheduled, 0),
                (3, TaskState::Scheduled, 0),
            ]
        );
        let first: &TaskInfo = before.iter().next().unwrap();
        assert_eq!(first.location.line(), line);
        assert!(first.location.file().ends_with("tasks.rs"));
        assert!(first.since_polled.is_some());
        assert!(before.iter().nth(1).unwrap().since_polled.is_none());
        let table = before.to_string();
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(
            table.lines().next().unwrap().contains("spawned at"),
            "{table}"
        );
        assert!(table.contains("scheduled"), "{table}");
        assert!(table.contains(&format!("tasks.rs:{line}:")), "{table}");

        let done = Arc::new(AtomicBool::new(false));
        let observer = std::thread::spawn({
            let done = done.clone();
            move || {
                started.recv().unwrap();
                // The loop is stuck in `blocker`'s poll: it cannot answer, so the dump says
                // what it is polling.
                let stuck = handle.tasks();
                release.send(()).unwrap();
                // Now the loop runs (it waits for `done`) and answers.
                let running = handle.tasks();
                done.store(true, Ordering::SeqCst);
                (stuck, running)
            }
        });
        event_loop.block_on(async {
            blocker.await.unwrap();
            queued.await.unwrap();
            while !done.load(Ordering::SeqCst) {
                sleep(Duration::from_millis(1)).await;
            }
        });
        let (stuck, running) = observer.join().unwrap();

        assert!(!stuck.is_complete());
        let states: Vec<(u64, TaskState)> = stuck.iter().map(|t| (t.id, t.state)).collect();
        assert_eq!(states, [(2, TaskState::Running)]);
        assert_eq!(stuck.iter().next().unwrap().location.line(), blocker_line);
        let table = stuck.to_string();
        assert!(table.contains("running"), "{table}");
        assert!(table.contains("did not answer"), "{table}");

        assert!(running.is_complete());
        let states: Vec<(u64, TaskState)> = running.iter().map(|t| (t.id, t.state)).collect();
        assert_eq!(states, [(1, TaskState::Waiting)]);

        // Finished tasks leave the list; the waiting one was polled once and not since.
        let after = event_loop.tasks();
        assert_eq!(after.len(), 1);
        assert_eq!(after.iter().next().unwrap().polls, 1);
        waiting.cancel();
        assert!(event_loop.block_on(waiting).unwrap_err().is_cancelled());
        assert!(event_loop.tasks().is_empty());
    });
}
