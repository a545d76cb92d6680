//! gather, as_completed, wait and TaskGroup.

mod common;

use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use braid_executor::{
    as_completed, gather, run, sleep, sleep_until, spawn, wait, yield_now, ReturnWhen, TaskGroup,
    TaskGroupError,
};
use common::{within, DropCount, DropFlag};
use futures::StreamExt;

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
        assert_eq!(futures::Stream::size_hint(&stream), (3, Some(3)));
        let order: Vec<u64> = stream.map(Result::unwrap).collect().await;
        assert_eq!(order, vec![10, 20, 30]);
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
