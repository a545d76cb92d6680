//! gather, as_completed, wait and TaskGroup.

mod common;

use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use braid_executor::sync::Event;
use braid_executor::{
    as_completed, gather, run, sleep, sleep_until, spawn, wait, yield_now, JoinError, ReturnWhen,
    Task, TaskGroup, TaskGroupError,
};
use common::{within, DropCount, DropFlag};
use futures::{Stream, StreamExt};

#[test]
fn gather_runs_concurrently_and_keeps_input_order() {
    within(Duration::from_secs(30), || {
        run(async {
            // The first future can only finish after the last one ran: run one after the
            // other, they would hang.
            let (tx, rx) = futures::channel::oneshot::channel::<u64>();
            let first = async move { rx.await.unwrap() };
            let middle = async {
                yield_now().await;
                1
            };
            let last = async move {
                sleep(Duration::from_millis(1)).await;
                tx.send(100).unwrap();
                2
            };
            let outputs = gather(vec![
                Box::pin(first) as std::pin::Pin<Box<dyn std::future::Future<Output = u64>>>,
                Box::pin(middle),
                Box::pin(last),
            ])
            .await;
            assert_eq!(outputs, vec![100, 1, 2]);
            let none: Vec<u8> = gather(Vec::<std::future::Ready<u8>>::new()).await;
            assert!(none.is_empty());
        });
    });
}

#[test]
fn gather_of_tasks_reports_each_outcome() {
    run(async {
        let outputs = gather(vec![
            spawn(async { 1 }),
            spawn(async { panic!("second fails") }),
            spawn(async { 3 }),
        ])
        .await;
        assert_eq!(outputs[0].as_ref().unwrap(), &1);
        assert!(outputs[1].as_ref().unwrap_err().is_panic());
        assert_eq!(outputs[2].as_ref().unwrap(), &3);
    });
}

#[test]
fn as_completed_yields_in_finishing_order() {
    run(async {
        // One base instant, so the deadlines keep their order however late a task starts.
        let base = Instant::now();
        let tasks: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|millis| {
                spawn(async move {
                    sleep_until(base + Duration::from_millis(millis)).await;
                    millis
                })
            })
            .collect();
        let stream = as_completed(tasks);
        assert_eq!(stream.size_hint(), (3, Some(3)));
        let order: Vec<(usize, u64)> = stream
            .map(|(index, output)| (index, output.unwrap()))
            .collect()
            .await;
        assert_eq!(order, vec![(1, 10), (2, 20), (0, 30)]);
    });
}

#[test]
fn as_completed_gives_the_index_of_each_future_in_the_input() {
    within(Duration::from_secs(30), || {
        run(async {
            // Each future finishes when its own event is set, in an order unlike the input's.
            let events: Vec<Rc<Event>> = (0..4).map(|_| Rc::new(Event::new())).collect();
            let futures = events.iter().enumerate().map(|(i, event)| {
                let event = event.clone();
                async move {
                    event.wait().await;
                    i * 10
                }
            });
            let mut finished = as_completed(futures);
            for i in [2, 0, 3, 1] {
                events[i].set();
                assert_eq!(finished.next().await, Some((i, i * 10)));
            }
            assert_eq!(finished.size_hint(), (0, Some(0)));
            assert_eq!(finished.next().await, None);

            // The same with tasks, whose outputs are Result<T, JoinError>.
            let events: Vec<Rc<Event>> = (0..3).map(|_| Rc::new(Event::new())).collect();
            let tasks: Vec<Task<&str>> = events
                .iter()
                .zip(["zero", "one", "two"])
                .map(|(event, name)| {
                    let event = event.clone();
                    spawn(async move {
                        event.wait().await;
                        if name == "one" {
                            panic!("one fails");
                        }
                        name
                    })
                })
                .collect();
            let mut finished = as_completed(tasks);
            events[1].set();
            let (index, output) = finished.next().await.unwrap();
            assert_eq!(index, 1);
            assert!(output.unwrap_err().is_panic());
            events[2].set();
            let (index, output) = finished.next().await.unwrap();
            assert_eq!((index, output.unwrap()), (2, "two"));
            assert_eq!(finished.size_hint(), (1, Some(1)));
            events[0].set();
            let (index, output) = finished.next().await.unwrap();
            assert_eq!((index, output.unwrap()), (0, "zero"));
        });
    });
}

#[test]
fn as_completed_gives_back_each_of_a_thousand_futures_once() {
    within(Duration::from_secs(60), || {
        run(async {
            let tasks: Vec<_> = (0..1000u32)
                .map(|i| {
                    spawn(async move {
                        for _ in 0..i % 4 {
                            yield_now().await;
                        }
                        i * 2
                    })
                })
                .collect();
            let mut finished = as_completed(tasks);
            let mut seen = vec![false; 1000];
            let mut left = 1000;
            while let Some((index, output)) = finished.next().await {
                assert!(!seen[index], "index {index} came back twice");
                seen[index] = true;
                assert_eq!(output.unwrap(), index as u32 * 2);
                left -= 1;
                assert_eq!(finished.size_hint(), (left, Some(left)));
            }
            assert!(seen.iter().all(|&seen| seen));
        });
    });
}

#[test]
fn as_completed_of_nothing_ends_at_once() {
    run(async {
        let mut finished = as_completed(Vec::<Task<u8>>::new());
        assert_eq!(finished.size_hint(), (0, Some(0)));
        assert!(finished.next().await.is_none());
        let mut finished = as_completed(std::iter::empty::<std::future::Ready<()>>());
        assert!(finished.next().await.is_none());
    });
}

#[test]
fn as_completed_mixes_tasks_pool_handles_and_plain_futures() {
    within(Duration::from_secs(30), || {
        let pool = braid_threadpool::ThreadPool::new(1).unwrap();
        run(async move {
            type Boxed =
                std::pin::Pin<Box<dyn std::future::Future<Output = Result<u32, JoinError>>>>;
            let futures: Vec<Boxed> = vec![
                Box::pin(spawn(async { 0 })),
                Box::pin(pool.submit(|| 10)),
                Box::pin(async { Ok(20) }),
                Box::pin(braid_executor::spawn_blocking(|| 30)),
            ];
            let mut outputs: Vec<(usize, u32)> = as_completed(futures)
                .map(|(index, output)| (index, output.unwrap()))
                .collect()
                .await;
            outputs.sort();
            assert_eq!(outputs, [(0, 0), (1, 10), (2, 20), (3, 30)]);
        });
    });
}

#[test]
fn dropping_as_completed_drops_its_futures_and_detaches_its_tasks() {
    within(Duration::from_secs(30), || {
        run(async {
            let (guard, dropped) = DropFlag::new();
            let go = Rc::new(Event::new());
            let task = spawn({
                let go = go.clone();
                async move {
                    let _guard = guard;
                    go.wait().await;
                }
            });
            let (guard, plain_dropped) = DropFlag::new();
            let plain = async move {
                let _guard = guard;
                pending::<()>().await;
                Ok(())
            };
            let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _>>>> =
                vec![Box::pin(task), Box::pin(plain)];
            let mut finished = as_completed(futures);
            // Poll once, so that both futures have started.
            assert!(futures::poll!(finished.next()).is_pending());
            drop(finished);
            assert!(
                plain_dropped.load(Ordering::SeqCst),
                "the plain future was dropped"
            );
            assert!(
                !dropped.load(Ordering::SeqCst),
                "the task was detached, not cancelled"
            );
            go.set();
            while !dropped.load(Ordering::SeqCst) {
                yield_now().await;
            }
        });
    });
}

#[test]
fn wait_first_completed_all_completed_and_timeout() {
    run(async {
        let tasks = vec![
            spawn(async {
                sleep(Duration::from_millis(20)).await;
                1
            }),
            spawn(async {
                sleep(Duration::from_secs(3600)).await;
                2
            }),
            spawn(async { 3 }),
        ];
        let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 3);

        let (done, pending) = wait(pending, ReturnWhen::FirstCompleted, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);

        let start = Instant::now();
        let (done, pending) = wait(
            pending,
            ReturnWhen::AllCompleted,
            Some(Duration::from_millis(30)),
        )
        .await;
        assert!(
            start.elapsed() >= Duration::from_millis(30),
            "the timeout ended the wait"
        );
        assert!(done.is_empty());
        assert_eq!(
            pending.len(),
            1,
            "the hour-long task is still pending, not cancelled"
        );
        assert!(!pending[0].is_finished());
        pending[0].cancel();
        let (done, pending) = wait(pending, ReturnWhen::AllCompleted, None).await;
        assert!(pending.is_empty());
        assert!(done[0].is_finished());
        let (done, pending) = wait(
            Vec::<braid_executor::Task<()>>::new(),
            ReturnWhen::FirstCompleted,
            None,
        )
        .await;
        assert!(done.is_empty() && pending.is_empty());
    });
}

#[test]
fn wait_first_error_returns_at_the_first_panic() {
    run(async {
        let tasks = vec![
            spawn(async {
                sleep(Duration::from_secs(3600)).await;
            }),
            spawn(async {
                yield_now().await;
                panic!("early failure");
            }),
            spawn(async {}),
        ];
        let (done, pending) = wait(tasks, ReturnWhen::FirstError, None).await;
        assert_eq!(done.len(), 2);
        assert_eq!(pending.len(), 1);
        let mut outcomes = Vec::new();
        for task in done {
            outcomes.push(task.await.is_err());
        }
        assert_eq!(outcomes, vec![true, false], "done keeps the input order");
        // Without an error, FirstError waits for all.
        let tasks = vec![spawn(async { 1 }), spawn(async { 2 })];
        let (done, pending) = wait(tasks, ReturnWhen::FirstError, None).await;
        assert_eq!((done.len(), pending.len()), (2, 0));
    });
}

#[test]
fn task_group_collects_outputs_in_spawn_order() {
    run(async {
        let group = TaskGroup::<u64, String>::new();
        for i in 0..10 {
            group.spawn(async move {
                sleep(Duration::from_millis(10 - i)).await;
                Ok(i)
            });
        }
        assert_eq!(group.len(), 10);
        assert_eq!(group.join().await.unwrap(), (0..10).collect::<Vec<_>>());
        assert!(TaskGroup::<(), ()>::new().join().await.unwrap().is_empty());
    });
}

#[test]
fn the_first_error_cancels_the_rest_of_the_group() {
    run(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let group = TaskGroup::new();
        for _ in 0..5 {
            let guard = DropCount(drops.clone());
            group.spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(3600)).await;
                Ok(())
            });
        }
        group.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("broken")
        });
        let error = group.join().await.unwrap_err();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            5,
            "siblings dropped before join returned"
        );
        assert!(error.to_string().contains("broken"));
        assert_eq!(error.into_failure(), Some("broken"));
    });
}

#[test]
fn a_panic_in_a_group_cancels_the_rest() {
    run(async {
        let (flag, dropped) = DropFlag::new();
        let group = TaskGroup::<(), ()>::new();
        group.spawn(async move {
            let _flag = flag;
            pending::<()>().await;
            Ok(())
        });
        group.spawn(async { panic!("member panicked") });
        let error = group.join().await.unwrap_err();
        assert!(error.is_panic());
        assert!(matches!(error, TaskGroupError::Panicked(_)));
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn dropping_a_group_cancels_its_tasks() {
    run(async {
        let (flag, dropped) = DropFlag::new();
        let group = TaskGroup::<(), ()>::new();
        group.spawn(async move {
            let _flag = flag;
            pending::<()>().await;
            Ok(())
        });
        yield_now().await;
        drop(group);
        yield_now().await;
        assert!(dropped.load(Ordering::SeqCst));

        // Dropping a join in progress (here: by a timeout) cancels the members too.
        let (flag, dropped) = DropFlag::new();
        let group = TaskGroup::<(), ()>::new();
        group.spawn(async move {
            let _flag = flag;
            pending::<()>().await;
            Ok(())
        });
        let outcome = braid_executor::timeout(Duration::from_millis(5), group.join()).await;
        assert!(outcome.is_err());
        yield_now().await;
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn a_member_spawns_a_sibling_and_join_waits_for_both() {
    within(Duration::from_secs(60), || {
        run(async {
            let group = TaskGroup::<u32, ()>::new();
            let handle = group.clone();
            group.spawn(async move {
                yield_now().await;
                handle.spawn(async {
                    // Still running when the first member has finished.
                    sleep(Duration::from_millis(20)).await;
                    Ok(2)
                });
                Ok(1)
            });
            let handle = Rc::new(group.clone());
            group.spawn(async move {
                sleep(Duration::from_millis(5)).await;
                handle.spawn(async { Ok(4) });
                Ok(3)
            });
            assert_eq!(group.join().await.unwrap(), vec![1, 3, 2, 4]);
        });
    });
}

#[test]
fn a_failure_cancels_the_siblings_before_join_is_called() {
    within(Duration::from_secs(60), || {
        run(async {
            let (flag, dropped) = DropFlag::new();
            let group = TaskGroup::<(), &str>::new();
            group.spawn(async move {
                let _flag = flag;
                sleep(Duration::from_secs(3600)).await;
                Ok(())
            });
            group.spawn(async { Err("broken") });
            for _ in 0..5 {
                yield_now().await;
            }
            assert!(
                dropped.load(Ordering::SeqCst),
                "the sleeping sibling was cancelled without anyone awaiting join"
            );
            // Members spawned after the failure never run.
            group.spawn(async { panic!("spawned into a failed group, yet it ran") });
            yield_now().await;
            assert_eq!(
                group.join().await.unwrap_err().into_failure(),
                Some("broken")
            );
        });
    });
}

#[test]
fn join_returns_the_first_failure_not_a_later_one() {
    within(Duration::from_secs(60), || {
        run(async {
            let group = TaskGroup::<(), &str>::new();
            // Spawned first and polled first by a join, but it fails second; both fail
            // before join is awaited, so only the group itself knows which came first.
            group.spawn(async {
                yield_now().await;
                yield_now().await;
                Err("second")
            });
            group.spawn(async { Err("first") });
            for _ in 0..5 {
                yield_now().await;
            }
            assert_eq!(
                group.join().await.unwrap_err().into_failure(),
                Some("first")
            );
        });
    });
}

#[test]
fn wait_sees_tasks_finish_on_another_loops_thread() {
    within(Duration::from_secs(60), || {
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let event_loop = braid_executor::EventLoop::new().unwrap();
            handle_tx.send(event_loop.handle()).unwrap();
            event_loop.block_on(stopped).unwrap();
        });
        let handle = handle_rx.recv().unwrap();
        run(async move {
            for round in 0..20 {
                let tasks: Vec<_> = (0..50u64)
                    .map(|i| {
                        handle
                            .spawn(async move {
                                for _ in 0..(i + round) % 3 {
                                    yield_now().await;
                                }
                                i
                            })
                            .unwrap()
                    })
                    .collect();
                // `wait` registers with each task from this thread while the other loop
                // finishes them on its own.
                let (done, pending) = wait(tasks, ReturnWhen::AllCompleted, None).await;
                assert!(pending.is_empty());
                let mut sum = 0;
                for task in done {
                    sum += task.await.unwrap();
                }
                assert_eq!(sum, 49 * 50 / 2);
            }
        });
        stop.send(()).unwrap();
        other.join().unwrap();
    });
}
