//! join! and try_join!: futures of different types, awaited together on the current task.

mod common;

use std::cell::Cell;
use std::future::{pending, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use braid_executor::sync::Event;
use braid_executor::{join, run, spawn, try_join, yield_now, JoinError};
use common::{within, DropFlag};

/// A future that never finishes and counts how often it is polled.
struct CountPolls(Rc<Cell<usize>>);

impl Future for CountPolls {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.set(self.0.get() + 1);
        Poll::Pending
    }
}

#[test]
fn join_gives_the_outputs_of_different_types_in_order() {
    within(Duration::from_secs(30), || {
        run(async {
            // The first future finishes only after the last one ran: one after the other,
            // they would hang.
            let (tx, rx) = futures::channel::oneshot::channel::<u8>();
            let (number, word, list) = join!(
                async move { rx.await.unwrap() },
                async {
                    yield_now().await;
                    "word".to_string()
                },
                async move {
                    yield_now().await;
                    tx.send(7).unwrap();
                    vec![1.5, 2.5]
                },
            );
            assert_eq!(number, 7u8);
            assert_eq!(word, "word");
            assert_eq!(list, [1.5, 2.5]);
        });
    });
}

#[test]
fn join_of_none_one_and_many() {
    run(async {
        let () = join!();
        let (one,) = join!(async { 1 });
        assert_eq!(one, 1);
        let (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p) = join!(
            async { 1u8 },
            async { 2u16 },
            async { 3u32 },
            async { 4u64 },
            async { 5i8 },
            async { 6i16 },
            async { 7i32 },
            async { 8i64 },
            async { "9" },
            async { '0' },
            async { 11usize },
            async { 12isize },
            async { 13.0f32 },
            async { 14.0f64 },
            async { true },
            async {},
        );
        assert_eq!((a, b, c, d, e, f, g, h), (1, 2, 3, 4, 5, 6, 7, 8));
        assert_eq!(
            (i, j, k, l, m, n, o, p),
            ("9", '0', 11, 12, 13.0, 14.0, true, ())
        );
    });
}

#[test]
fn join_borrows_from_the_caller() {
    run(async {
        let mut log = Vec::new();
        let name = String::from("braid");
        let (length, upper) = join!(async { name.len() }, async {
            log.push("ran");
            name.to_uppercase()
        });
        assert_eq!((length, upper.as_str()), (5, "BRAID"));
        assert_eq!(log, ["ran"]);
    });
}

#[test]
fn try_join_gives_every_value_when_all_succeed() {
    run(async {
        let values = try_join!(async { Ok::<_, io::Error>(1u8) }, async {
            yield_now().await;
            Ok("two")
        },);
        assert_eq!(values.unwrap(), (1, "two"));
        let none: Result<(), io::Error> = try_join!();
        assert!(none.is_ok());
    });
}

#[test]
fn try_join_returns_the_first_error_and_drops_the_rest_unpolled() {
    run(async {
        let polls = Rc::new(Cell::new(0));
        let (guard, dropped) = DropFlag::new();
        let counted = async {
            let _guard = guard;
            CountPolls(polls.clone()).await
        };
        let error = try_join!(
            async {
                yield_now().await;
                Err::<(), _>(io::Error::other("late"))
            },
            async {
                yield_now().await;
                yield_now().await;
                Err::<u8, _>(io::Error::other("later still"))
            },
            async { Err::<(), _>(io::Error::new(io::ErrorKind::NotFound, "first")) },
            counted,
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(error.to_string(), "first");
        // The third future failed on the first round, before the fourth was polled.
        assert_eq!(polls.get(), 0);
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));

        // The first error in time wins, not the first in the list.
        let polls = Rc::new(Cell::new(0));
        let error = try_join!(
            async {
                yield_now().await;
                yield_now().await;
                Err::<(), _>(io::Error::other("late"))
            },
            async {
                yield_now().await;
                Err::<(), _>(io::Error::other("early"))
            },
            CountPolls(polls.clone()),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "early");
        // Polled on the first round; on the second, the second future failed before it.
        assert_eq!(polls.get(), 1);
    });
}

#[test]
fn try_join_of_tasks_gives_the_join_error_and_detaches_the_rest() {
    within(Duration::from_secs(30), || {
        run(async {
            let go = Rc::new(Event::new());
            let ran = Rc::new(Cell::new(false));
            let slow = spawn({
                let (go, ran) = (go.clone(), ran.clone());
                async move {
                    go.wait().await;
                    ran.set(true);
                }
            });
            let error: JoinError = try_join!(
                spawn(async { 1 }),
                spawn(async { panic!("boom") }),
                slow,
                spawn(pending::<()>()),
            )
            .unwrap_err();
            assert!(error.is_panic());
            assert_eq!(error.panic_message(), Some("boom"));
            // The slow task was detached, not cancelled: it runs on once it may.
            go.set();
            while !ran.get() {
                yield_now().await;
            }
        });
    });
}
