//! braid-executor against tokio's current-thread runtime and async-executor's
//! `LocalExecutor`, each on one thread:
//!
//! - spawn 100,000 trivial tasks, then await each;
//! - 100,000 tasks each sleeping 1 ms, all awaited (async-executor has no timer);
//! - ping-pong: two tasks pass a number back and forth through two one-slot channels
//!   (braid's `Queue`, tokio's `mpsc`, and `futures`' `mpsc` for async-executor);
//! - yield storm: 1,000 tasks that each yield 1,000 times;
//! - memory: peak RSS of a fresh process holding 100,000 idle tasks, and what each adds.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};

use crate::measurement::{Cell, LayerReport, Peer, Unit};
use crate::probe;
use crate::report::thousands;
use crate::settings::{check, check_sum, Contender, Settings};

/// The layer's name.
pub const LAYER: &str = "event loop";

const TASKS: u64 = 100_000;
/// The tasks of the yield storm.
pub const YIELDING_TASKS: u64 = 1_000;
const IDLE_TASKS: usize = 100_000;
const RUNTIMES: [&str; 3] = ["braid", "tokio", "async-executor"];

/// Measures every event-loop workload for braid and each peer.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(
        LAYER,
        vec![
            Peer::rival("tokio current"),
            Peer::rival("async-exec local"),
        ],
    );
    let runtimes = match Runtimes::new() {
        Ok(runtimes) => runtimes,
        Err(e) => {
            layer.note(format!("the runtimes could not be built: {e}"));
            return layer;
        }
    };

    let n = TASKS;
    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        n,
        Contender::runs(|| spawn_await_braid(&runtimes.braid, n)),
        vec![
            Contender::runs(|| spawn_await_tokio(&runtimes.tokio, n)),
            Contender::runs(|| spawn_await_local(&runtimes.local, n)),
        ],
    );
    layer.push(
        "spawn 100,000 trivial tasks, await each",
        Unit::NsPerOp,
        braid,
        peers,
    );

    let (braid, peers) = settings.side_by_side(
        Unit::Ms,
        1,
        Contender::runs(|| sleeps_braid(&runtimes.braid, 1)),
        vec![
            Contender::runs(|| sleeps_tokio(&runtimes.tokio, 1)),
            Contender::not_applicable(),
        ],
    );
    layer.push("100,000 concurrent 1 ms sleeps", Unit::Ms, braid, peers);

    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        n,
        Contender::runs(|| ping_pong_braid(&runtimes.braid, n)),
        vec![
            Contender::runs(|| ping_pong_tokio(&runtimes.tokio, n)),
            Contender::runs(|| ping_pong_local(&runtimes.local, n)),
        ],
    );
    layer.push(
        "channel ping-pong, 100,000 round trips",
        Unit::NsPerOp,
        braid,
        peers,
    );

    let yields = settings.pick(1_000, 250);
    let total = YIELDING_TASKS * yields;
    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        total,
        Contender::runs(|| yield_storm_braid(&runtimes.braid, yields)),
        vec![
            Contender::runs(|| yield_storm_tokio(&runtimes.tokio, yields)),
            Contender::runs(|| yield_storm_local(&runtimes.local, yields)),
        ],
    );
    layer.push(
        format!("yield storm: 1,000 tasks x {} yields", thousands(yields)),
        Unit::NsPerOp,
        braid,
        peers,
    );
    drop(runtimes);

    let memory: Vec<Result<(u64, u64), String>> = RUNTIMES
        .iter()
        .map(|runtime| {
            let empty = idle_tasks_rss(runtime, 0)?;
            let full = idle_tasks_rss(runtime, IDLE_TASKS)?;
            Ok((full, full.saturating_sub(empty)))
        })
        .collect();
    let cell = |result: &Result<(u64, u64), String>, pick: fn((u64, u64)) -> f64| match result {
        Ok(sizes) => Cell::Value(pick(*sizes)),
        Err(why) => Cell::Missing(why.clone()),
    };
    let peak = |sizes: (u64, u64)| sizes.0 as f64 / (1u64 << 20) as f64;
    let per_task = |sizes: (u64, u64)| sizes.1 as f64 / IDLE_TASKS as f64;
    layer.push(
        "peak RSS, 100,000 idle tasks",
        Unit::MiB,
        cell(&memory[0], peak),
        vec![cell(&memory[1], peak), cell(&memory[2], peak)],
    );
    layer.push(
        "memory per idle task",
        Unit::BytesPerTask,
        cell(&memory[0], per_task),
        vec![cell(&memory[1], per_task), cell(&memory[2], per_task)],
    );
    for (runtime, result) in RUNTIMES.iter().zip(&memory) {
        if let Err(why) = result {
            layer.note(format!("{runtime} memory: {why}"));
        }
    }
    layer.note("peak RSS is that of a fresh process (this program, run again) holding 100,000 tasks that each wait forever; per task = (that - the same with no tasks) / 100,000");
    layer.note("async-executor has no timer of its own, so it has no sleep row");
    layer
}

/// The three event loops that are compared, each on the thread that calls it.
#[derive(Debug)]
pub struct Runtimes {
    /// braid's event loop.
    pub braid: braid_executor::EventLoop,
    /// tokio's current-thread runtime, with its timer and I/O driver on.
    pub tokio: tokio::runtime::Runtime,
    /// async-executor's single-threaded executor.
    pub local: async_executor::LocalExecutor<'static>,
}

impl Runtimes {
    /// Builds the three event loops.
    ///
    /// # Errors
    ///
    /// When braid's or tokio's loop cannot get its poller.
    pub fn new() -> io::Result<Runtimes> {
        Ok(Runtimes {
            braid: braid_executor::EventLoop::new()?,
            tokio: tokio_runtime()?,
            local: async_executor::LocalExecutor::new(),
        })
    }
}

/// Times spawning `n` trivial tasks on braid's loop, then awaiting each.
///
/// # Errors
///
/// A task that did not finish.
pub fn spawn_await_braid(event_loop: &braid_executor::EventLoop, n: u64) -> io::Result<Duration> {
    event_loop.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|i| braid_executor::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.map_err(io::Error::other)?;
        }
        let elapsed = start.elapsed();
        check_sum(sum, n)?;
        Ok(elapsed)
    })
}

/// [`spawn_await_braid`] on tokio's current-thread runtime.
///
/// # Errors
///
/// A task that did not finish.
pub fn spawn_await_tokio(runtime: &tokio::runtime::Runtime, n: u64) -> io::Result<Duration> {
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|i| tokio::task::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.map_err(io::Error::other)?;
        }
        let elapsed = start.elapsed();
        check_sum(sum, n)?;
        Ok(elapsed)
    })
}

/// [`spawn_await_braid`] on async-executor's `LocalExecutor`.
///
/// # Errors
///
/// Results that do not add up.
pub fn spawn_await_local(
    executor: &async_executor::LocalExecutor<'static>,
    n: u64,
) -> io::Result<Duration> {
    futures::executor::block_on(executor.run(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n).map(|i| executor.spawn(async move { i })).collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        let elapsed = start.elapsed();
        check_sum(sum, n)?;
        Ok(elapsed)
    }))
}

/// Times `runs` rounds of 100,000 tasks each sleeping 1 ms on braid's loop, all awaited.
///
/// # Errors
///
/// A task that did not finish.
pub fn sleeps_braid(event_loop: &braid_executor::EventLoop, runs: u64) -> io::Result<Duration> {
    event_loop.block_on(async {
        let start = Instant::now();
        for _ in 0..runs {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| braid_executor::spawn(braid_executor::sleep(Duration::from_millis(1))))
                .collect();
            for task in tasks {
                task.await.map_err(io::Error::other)?;
            }
        }
        Ok(start.elapsed())
    })
}

/// [`sleeps_braid`] on tokio's current-thread runtime.
///
/// # Errors
///
/// A task that did not finish.
pub fn sleeps_tokio(runtime: &tokio::runtime::Runtime, runs: u64) -> io::Result<Duration> {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..runs {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| tokio::task::spawn(tokio::time::sleep(Duration::from_millis(1))))
                .collect();
            for task in tasks {
                task.await.map_err(io::Error::other)?;
            }
        }
        Ok(start.elapsed())
    })
}

/// Times `n` round trips on braid's loop: two tasks pass a number back and forth through
/// two one-slot `Queue`s.
///
/// # Errors
///
/// A queue that closed early, or a number that came back wrong.
pub fn ping_pong_braid(event_loop: &braid_executor::EventLoop, n: u64) -> io::Result<Duration> {
    event_loop.block_on(ping_pong_braid_task(n))
}

/// [`ping_pong_braid`] on tokio's current-thread runtime, through two `mpsc` channels of
/// one slot.
///
/// # Errors
///
/// A channel that closed early, or a number that came back wrong.
pub fn ping_pong_tokio(runtime: &tokio::runtime::Runtime, n: u64) -> io::Result<Duration> {
    runtime.block_on(ping_pong_tokio_task(n))
}

/// [`ping_pong_braid`] on async-executor's `LocalExecutor`, through two one-slot
/// `futures` channels.
///
/// # Errors
///
/// A channel that closed early, or a number that came back wrong.
pub fn ping_pong_local(
    executor: &async_executor::LocalExecutor<'static>,
    n: u64,
) -> io::Result<Duration> {
    futures::executor::block_on(executor.run(ping_pong_local_task(executor, n)))
}

/// Times [`YIELDING_TASKS`] tasks on braid's loop each yielding `yields` times, so one
/// iteration is a yield by every task.
///
/// # Errors
///
/// A task that did not finish.
pub fn yield_storm_braid(
    event_loop: &braid_executor::EventLoop,
    yields: u64,
) -> io::Result<Duration> {
    event_loop.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..YIELDING_TASKS)
            .map(|_| {
                braid_executor::spawn(async move {
                    for _ in 0..yields {
                        braid_executor::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.map_err(io::Error::other)?;
        }
        Ok(start.elapsed())
    })
}

/// [`yield_storm_braid`] on tokio's current-thread runtime.
///
/// # Errors
///
/// A task that did not finish.
pub fn yield_storm_tokio(runtime: &tokio::runtime::Runtime, yields: u64) -> io::Result<Duration> {
    runtime.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..YIELDING_TASKS)
            .map(|_| {
                tokio::task::spawn(async move {
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.map_err(io::Error::other)?;
        }
        Ok(start.elapsed())
    })
}

/// [`yield_storm_braid`] on async-executor's `LocalExecutor`, with the yield its users
/// write (it has none of its own).
///
/// # Errors
///
/// None in practice; the `Result` matches the other workloads.
pub fn yield_storm_local(
    executor: &async_executor::LocalExecutor<'static>,
    yields: u64,
) -> io::Result<Duration> {
    futures::executor::block_on(executor.run(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..YIELDING_TASKS)
            .map(|_| {
                executor.spawn(async move {
                    for _ in 0..yields {
                        YieldOnce(false).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await;
        }
        Ok(start.elapsed())
    }))
}

fn tokio_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn ping_pong_braid_task(n: u64) -> io::Result<Duration> {
    use braid_executor::sync::Queue;
    let (ping, pong) = (Rc::new(Queue::new(1)), Rc::new(Queue::new(1)));
    let echo = braid_executor::spawn({
        let (ping, pong) = (Rc::clone(&ping), Rc::clone(&pong));
        async move {
            while let Ok(value) = ping.get().await {
                if pong.put(value).await.is_err() {
                    break;
                }
            }
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping.put(i)
            .await
            .map_err(|_| io::Error::other("the ping queue closed"))?;
        let back = pong
            .get()
            .await
            .map_err(|_| io::Error::other("the pong queue closed"))?;
        check(back == i, "ping-pong lost a message")?;
    }
    let elapsed = start.elapsed();
    ping.close();
    let _ = echo.await;
    Ok(elapsed)
}

async fn ping_pong_tokio_task(n: u64) -> io::Result<Duration> {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel(1);
    let echo = tokio::task::spawn(async move {
        while let Some(value) = ping_rx.recv().await {
            if pong_tx.send(value).await.is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx
            .send(i)
            .await
            .map_err(|_| io::Error::other("the ping channel closed"))?;
        let back = pong_rx
            .recv()
            .await
            .ok_or_else(|| io::Error::other("the pong channel closed"))?;
        check(back == i, "ping-pong lost a message")?;
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    let _ = echo.await;
    Ok(elapsed)
}

async fn ping_pong_local_task(
    executor: &async_executor::LocalExecutor<'static>,
    n: u64,
) -> io::Result<Duration> {
    // `futures`' bounded channel holds `buffer` items plus one per sender: 0 gives one slot.
    let (mut ping_tx, mut ping_rx) = futures::channel::mpsc::channel(0);
    let (mut pong_tx, mut pong_rx) = futures::channel::mpsc::channel(0);
    let echo = executor.spawn(async move {
        while let Some(value) = ping_rx.next().await {
            if pong_tx.send(value).await.is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx
            .send(i)
            .await
            .map_err(|_| io::Error::other("the ping channel closed"))?;
        let back = pong_rx
            .next()
            .await
            .ok_or_else(|| io::Error::other("the pong channel closed"))?;
        check(back == i, "ping-pong lost a message")?;
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.await;
    Ok(elapsed)
}

/// Returns `Pending` once after waking itself, the yield that async-executor users write
/// (it has none of its own).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs the idle-tasks probe in a fresh process and returns its peak RSS in bytes.
fn idle_tasks_rss(runtime: &str, tasks: usize) -> Result<u64, String> {
    let output = probe::command(probe::IDLE_TASKS, &[runtime, &tasks.to_string()])
        .and_then(|mut command| command.output())
        .map_err(|e| format!("the probe could not be run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the probe failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    text.trim()
        .parse()
        .map_err(|_| format!("the probe printed {text:?}, not a byte count"))
}

/// The child side of the memory row: `args` are a runtime name and a task count. Spawns
/// that many tasks that wait forever, waits until each has run once, and prints the peak
/// RSS in bytes.
///
/// # Errors
///
/// Bad arguments, or a runtime that cannot be built.
pub fn idle_tasks_probe(args: &[String]) -> io::Result<()> {
    let (runtime, tasks) = match args {
        [runtime, tasks] => (
            runtime.as_str(),
            tasks.parse::<usize>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{tasks:?} is not a task count"),
                )
            })?,
        ),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the idle-tasks probe takes a runtime and a task count",
            ))
        }
    };
    let started = Arc::new(AtomicUsize::new(0));
    let idle = |started: &Arc<AtomicUsize>| {
        let started = Arc::clone(started);
        async move {
            started.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        }
    };
    let all_started = || started.load(Ordering::Relaxed) == tasks;
    match runtime {
        "braid" => {
            let event_loop = braid_executor::EventLoop::new()?;
            event_loop.block_on(async {
                for _ in 0..tasks {
                    braid_executor::spawn(idle(&started)).detach();
                }
                while !all_started() {
                    braid_executor::yield_now().await;
                }
            });
            println!("{}", probe::peak_rss()?);
            // Leave without tearing the tasks down: the process is done.
            std::process::exit(0);
        }
        "tokio" => {
            let runtime = tokio_runtime()?;
            runtime.block_on(async {
                for _ in 0..tasks {
                    drop(tokio::task::spawn(idle(&started)));
                }
                while !all_started() {
                    tokio::task::yield_now().await;
                }
            });
            println!("{}", probe::peak_rss()?);
            std::process::exit(0);
        }
        "async-executor" => {
            let executor = async_executor::LocalExecutor::new();
            for _ in 0..tasks {
                executor.spawn(idle(&started)).detach();
            }
            while executor.try_tick() {}
            check(all_started(), "not every task ran")?;
            println!("{}", probe::peak_rss()?);
            std::process::exit(0);
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{other:?} is not one of {RUNTIMES:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_runs_every_workload() {
        let runtimes = Runtimes::new().unwrap();
        spawn_await_braid(&runtimes.braid, 100).unwrap();
        spawn_await_tokio(&runtimes.tokio, 100).unwrap();
        spawn_await_local(&runtimes.local, 100).unwrap();
        // Every task sleeps 1 ms, so a round cannot end sooner.
        assert!(sleeps_braid(&runtimes.braid, 1).unwrap() >= Duration::from_millis(1));
        assert!(sleeps_tokio(&runtimes.tokio, 1).unwrap() >= Duration::from_millis(1));
        ping_pong_braid(&runtimes.braid, 100).unwrap();
        ping_pong_tokio(&runtimes.tokio, 100).unwrap();
        ping_pong_local(&runtimes.local, 100).unwrap();
        yield_storm_braid(&runtimes.braid, 10).unwrap();
        yield_storm_tokio(&runtimes.tokio, 10).unwrap();
        yield_storm_local(&runtimes.local, 10).unwrap();
    }

    #[test]
    fn the_probe_rejects_bad_arguments() {
        let bad_runtime = idle_tasks_probe(&["gevent".into(), "10".into()]).unwrap_err();
        assert!(bad_runtime.to_string().contains("gevent"), "{bad_runtime}");
        let bad_count = idle_tasks_probe(&["braid".into(), "many".into()]).unwrap_err();
        assert!(bad_count.to_string().contains("many"), "{bad_count}");
        assert!(idle_tasks_probe(&[]).is_err());
    }
}
