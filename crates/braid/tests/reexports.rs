//! Every name the facade promises resolves, under the features that promise it.

#[cfg(feature = "poller")]
#[test]
fn poller_module() {
    use braid::poller::{Event, Events, Interest, Mode, Poller};
    let poller: Poller = Poller::new().unwrap();
    let events = Events::with_capacity(4);
    let _: Option<Event> = events.iter().next();
    let _ = (Interest::BOTH, Mode::Oneshot);
    // The facade's type is the crate's type, not a copy.
    let _: &braid_poller::Poller = &poller;
}

#[cfg(feature = "threadpool")]
#[test]
fn threadpool_module_and_shortcuts() {
    use braid::threadpool::{as_completed, JoinError, JoinHandle, Shutdown};
    let pool: braid::ThreadPool = braid::threadpool::ThreadPool::new(1).unwrap();
    let handle: JoinHandle<u8> = pool.submit(|| 3);
    let results: Vec<Result<u8, JoinError>> = as_completed([handle]).collect();
    assert_eq!(results.into_iter().map(Result::unwrap).sum::<u8>(), 3);
    pool.shutdown(Shutdown::Wait);
}

#[cfg(feature = "executor")]
#[test]
fn executor_module_and_shortcuts() {
    use std::time::Duration;
    let out = braid::run(async {
        let task = braid::spawn(async { 1 });
        braid::sleep(Duration::from_millis(1)).await;
        let gathered = braid::gather((2..4).map(|i| async move { i })).await;
        let timed = braid::timeout(Duration::from_secs(5), async { 4 })
            .await
            .unwrap();
        let blocking = braid::spawn_blocking(|| 5).await.unwrap();
        task.await.unwrap() + gathered.iter().sum::<i32>() + timed + blocking
    });
    assert_eq!(out, 15);
    let _ = braid::executor::sync::Queue::<u8>::new(0);
    let _ = braid::executor::EventLoop::builder();
}

#[cfg(feature = "executor")]
#[braid::main]
async fn async_fn_on_the_loop(x: u32) -> u32 {
    braid::executor::yield_now().await;
    x * 2
}

#[cfg(feature = "executor")]
#[test]
fn main_attribute_runs_the_body_on_a_loop() {
    assert_eq!(async_fn_on_the_loop(21), 42);
}

#[cfg(feature = "procpool")]
#[test]
fn procpool_module_and_shortcut() {
    use braid::procpool::{Builder, Shutdown, StartMethod, TaskError};
    let _: fn() -> Builder = braid::ProcessPool::builder;
    let _ = (StartMethod::Fork, Shutdown::Wait);
    let _: Option<TaskError> = None;
}

#[test]
#[allow(unused_imports)]
fn prelude_imports() {
    use braid::prelude::*;
}
