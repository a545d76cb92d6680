//! Task::flatten and Timeout::flatten: one Result from a task that awaits a timeout.

use std::future::pending;
use std::io;
use std::time::Duration;

use braid_executor::{run, spawn, timeout, try_join, Task};

/// A task whose body reads through a timeout, as a server's handler would: `read` stands for
/// the I/O, `limit` for the time it is given.
fn read_within<F>(limit: Duration, read: F) -> Task<io::Result<usize>>
where
    F: std::future::Future<Output = io::Result<usize>> + 'static,
{
    spawn(async move { timeout(limit, read).flatten().await })
}

#[test]
fn a_value_passes_through() {
    run(async {
        let task = read_within(Duration::from_secs(3600), async { Ok(42) });
        assert_eq!(task.flatten().await.unwrap(), 42);
    });
}

#[test]
fn running_out_of_time_is_an_io_error_of_kind_timed_out() {
    run(async {
        let task = read_within(Duration::from_millis(1), pending());
        let error = task.flatten().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            error.to_string(),
            "the deadline passed before the future finished; it was dropped"
        );
    });
}

#[test]
fn the_tasks_own_error_comes_back_unchanged() {
    run(async {
        let task = read_within(Duration::from_secs(3600), async {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "peer left"))
        });
        let error = task.flatten().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(error.to_string(), "peer left");
    });
}

#[test]
fn a_panic_or_a_cancel_becomes_an_io_error() {
    run(async {
        let task = read_within(Duration::from_secs(3600), async { panic!("bad header") });
        let error = task.flatten().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Other);
        assert_eq!(error.to_string(), "the task panicked: bad header");

        let flat = read_within(Duration::from_secs(3600), pending()).flatten();
        assert!(flat.get_ref().cancel());
        let error = flat.await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Other);
        assert_eq!(
            error.to_string(),
            "the task was cancelled before it finished"
        );
    });
}

#[test]
fn the_question_marks_that_flatten_stands_for() {
    let result: io::Result<usize> = run(async {
        let task = spawn(async { timeout(Duration::from_secs(3600), async { Ok(7) }).await? });
        task.await?
    });
    assert_eq!(result.unwrap(), 7);
}

#[test]
fn flattened_tasks_in_try_join_share_the_io_error() {
    run(async {
        let (a, b) = try_join!(
            read_within(Duration::from_secs(3600), async { Ok(1) }).flatten(),
            read_within(Duration::from_secs(3600), async { Ok(2) }).flatten(),
        )
        .unwrap();
        assert_eq!((a, b), (1, 2));

        let error = try_join!(
            read_within(Duration::from_secs(3600), pending()).flatten(),
            read_within(Duration::from_secs(3600), async { panic!("no") }).flatten(),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "the task panicked: no");
    });
}

#[test]
fn the_unflattened_shape_is_still_there() {
    run(async {
        let flat = timeout(Duration::from_secs(3600), async { io::Result::Ok(3) }).flatten();
        let nested: Result<io::Result<u8>, braid_executor::Elapsed> = flat.into_inner().await;
        assert_eq!(nested.unwrap().unwrap(), 3);
    });
}
