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
    let results: Vec<(usize, Result<u8, JoinError>)> = as_completed([handle]).collect();
    assert_eq!(results.into_iter().map(|(_, r)| r.unwrap()).sum::<u8>(), 3);
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
    // The everyday event-loop types, at the top as in the prelude.
    let counted = braid::run(async {
        let task: braid::Task<u8> = braid::spawn(async { 6 });
        braid::yield_now().await;
        let group: braid::TaskGroup<u8, ()> = braid::TaskGroup::new();
        group.spawn(async { Ok(1) });
        let joined: Result<u8, braid::JoinError> = task.await;
        let (first, second) = braid::join!(async { 1 }, async { 1u8 });
        let mut stream = braid::as_completed([braid::spawn(async { 0u8 })]);
        let (index, zero) = futures::StreamExt::next(&mut stream).await.unwrap();
        assert_eq!((index, zero.unwrap(), first), (0, 0, 1));
        joined.unwrap() + group.join().await.unwrap()[0] + second - 1
    });
    assert_eq!(counted, 7);
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

/// Names the prelude promises, each used so that a missing one fails to compile (a glob
/// import alone would not).
#[cfg(all(feature = "executor", feature = "threadpool"))]
#[test]
fn prelude_brings_the_everyday_names() {
    use braid::prelude::*;
    use futures::StreamExt;
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    let handle: JoinHandle<u32> = pool.submit(|| 20);
    let from_pool: u32 = handle.join().unwrap();
    let total = run(async move {
        let task: Task<u32> = spawn(async { 1 });
        // The prelude's as_completed is the loop's stream, with each input's position.
        let finished: Vec<(usize, Result<u32, JoinError>)> =
            as_completed(vec![spawn(async { 0 })]).collect().await;
        assert_eq!(finished.len(), 1);
        let (text, number) = join!(async { "two types" }, async { 2u8 });
        assert_eq!((text, number), ("two types", 2));
        let tried: Result<(u8, char), JoinError> =
            try_join!(spawn(async { 1 }), spawn(async { 'x' }));
        assert_eq!(tried.unwrap(), (1, 'x'));
        yield_now().await;
        sleep(std::time::Duration::from_millis(1)).await;
        let group: TaskGroup<u32, ()> = TaskGroup::new();
        group.spawn(async { Ok(2) });
        let grouped: u32 = group.join().await.unwrap().into_iter().sum();
        let gathered: u32 = gather([async { 3 }]).await.into_iter().sum();
        let timed = timeout(std::time::Duration::from_secs(5), async { 4 })
            .await
            .unwrap();
        let blocking = spawn_blocking(|| 5).await.unwrap();
        let joined: Result<u32, JoinError> = task.await;
        joined.unwrap() + grouped + gathered + timed + blocking
    });
    assert_eq!(total + from_pool, 35);
}

#[cfg(feature = "procpool")]
#[test]
fn prelude_brings_the_process_pool_names() {
    use braid::prelude::*;
    let _: fn(usize) -> Result<ProcessPool, braid::procpool::BuildError> = ProcessPool::new;
    let err: TaskError = TaskError::TimedOut;
    assert!(err.to_string().contains("time"), "{err}");
}

#[cfg(feature = "executor")]
#[test]
fn executor_processes_signals_and_runtime() {
    use braid::executor::process::{Command, Stdio};
    use braid::executor::runtime::{Balance, Builder, Server, SpawnOnError};
    use braid::executor::signal::{ctrl_c, signal, Signal};
    use braid::executor::Runtime;

    let status = braid::run(async {
        // A refused signal shows `signal` is the executor's own function, not a stand-in.
        let refused = signal(libc::SIGKILL).map(|_: Signal| ()).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
        let _ = ctrl_c; // named, not awaited: it would wait for a Ctrl-C
        Command::new("true").stdout(Stdio::null()).status().await
    });
    assert!(status.unwrap().success());

    let builder: Builder = Runtime::builder().loops(1).balance(Balance::RoundRobin);
    let runtime: Runtime = builder.build().unwrap();
    let missing: SpawnOnError = runtime.spawn_on(5, || async {}).unwrap_err();
    assert!(missing.to_string().contains('5'), "{missing}");
    let server: Server = runtime.serve("127.0.0.1:0", |_stream| async {}).unwrap();
    server.stop();
}

#[cfg(all(feature = "executor", feature = "threadpool"))]
#[test]
fn one_join_error_serves_a_pool_handle_and_an_event_loop_task() {
    use braid::prelude::*;

    fn describe(error: JoinError) -> String {
        error.to_string()
    }
    let pool = ThreadPool::new(1).unwrap();
    let from_pool = pool.submit(|| -> u8 { panic!("in the pool") }).join();
    let from_loop = run(async { spawn(async { panic!("on the loop") }).await });
    let from_blocking = run(async { spawn_blocking(|| -> u8 { panic!("blocking") }).await });
    // One function takes all three: the types are the same, not look-alikes.
    assert_eq!(
        describe(from_pool.unwrap_err()),
        "the task panicked: in the pool"
    );
    let from_loop: Result<(), braid::threadpool::JoinError> = from_loop;
    assert_eq!(
        describe(from_loop.unwrap_err()),
        "the task panicked: on the loop"
    );
    assert_eq!(
        describe(from_blocking.unwrap_err()),
        "the task panicked: blocking"
    );
}

#[cfg(all(feature = "threadpool", not(feature = "executor")))]
#[test]
fn the_prelude_has_join_error_with_the_thread_pool_alone() {
    use braid::prelude::*;
    let pool = ThreadPool::new(1).unwrap();
    let error: JoinError = pool.submit(|| -> u8 { panic!("x") }).join().unwrap_err();
    assert!(error.is_panic());
}

#[cfg(feature = "hyper")]
#[test]
fn hyper_module() {
    use braid::hyper::{BraidExecutor, BraidIo, BraidTimer, HandleExecutor};
    // The facade's types are the crate's types, not copies.
    let _: braid_hyper::BraidTimer = BraidTimer;
    let _: braid_hyper::BraidExecutor = BraidExecutor;
    let _: fn(braid::executor::Handle) -> braid_hyper::HandleExecutor = HandleExecutor::new;
    let _: fn(braid::executor::net::TcpStream) -> braid_hyper::BraidIo<_> = BraidIo::new;
}
