//! A loop told to yield before sleeping: it yields, it counts the yields a thread that never
//! blocks made slow and holds its yields back behind one, and it does not yield with a
//! timer about to fall due.

#![cfg(target_os = "linux")]

use std::future::Future;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use braid_executor::{sleep, EventLoop, Metrics};

/// A thread pinned to the first CPU this process may use, spinning until dropped: a
/// neighbour that never blocks.
struct PinnedSpinner {
    cpu: usize,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PinnedSpinner {
    /// Returns once the spinner spins on its CPU.
    fn start() -> PinnedSpinner {
        let cpu = braid_sys::cpu::allowed().unwrap()[0];
        let stop = Arc::new(AtomicBool::new(false));
        let (spinning_tx, spinning_rx) = std::sync::mpsc::channel();
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                braid_sys::cpu::pin(0, cpu).unwrap();
                spinning_tx.send(()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        spinning_rx.recv().expect("the spinner could not be pinned");
        PinnedSpinner {
            cpu,
            stop,
            thread: Some(thread),
        }
    }

    /// Runs the future `make` returns on an event loop told to yield before sleeping, on a
    /// thread of its own pinned to the spinner's CPU, and returns the loop's metrics.
    fn yielding_loop_beside<F: Future>(&self, make: impl FnOnce() -> F + Send) -> Metrics {
        thread::scope(|scope| {
            scope
                .spawn(|| {
                    braid_sys::cpu::pin(0, self.cpu).unwrap();
                    let event_loop = EventLoop::builder()
                        .yield_before_sleep(true)
                        .build()
                        .unwrap();
                    event_loop.block_on(make());
                    event_loop.metrics()
                })
                .join()
                .unwrap()
        })
    }
}

impl Drop for PinnedSpinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_loop_sharing_its_core_with_a_spinning_thread_counts_slow_yields() {
    let spinner = PinnedSpinner::start();
    let metrics = spinner.yielding_loop_beside(|| async {
        for _ in 0..100 {
            sleep(Duration::from_millis(3)).await;
        }
    });
    drop(spinner);

    assert_eq!(metrics.timers_fired, 100);
    // The spinner takes a whole scheduler slice from many of the yields: the metric that
    // tells a user to turn yielding off sees it.
    assert!(metrics.yields >= 1, "{metrics:?}");
    assert!(metrics.slow_yields >= 1, "{metrics:?}");
}

/// One connection served by a loop whose core a pinned spinning thread shares: a yield
/// often hands the spinner a whole scheduler slice while the client's next message waits,
/// and brings only that message. Such yields hold the next ones back, so few yields are
/// slow; without the back-off about a third of 1,000 round trips each waited a slice.
#[test]
fn a_loop_behind_a_spinning_thread_holds_its_yields_back() {
    let spinner = PinnedSpinner::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    const TRIPS: usize = 1_000;
    let client = thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut byte = [0u8; 1];
        for n in 0..TRIPS {
            stream.write_all(&[n as u8]).unwrap();
            stream.read_exact(&mut byte).unwrap();
            assert_eq!(byte[0], n as u8);
        }
    });
    let metrics = spinner.yielding_loop_beside(|| async {
        let listener = braid_executor::net::TcpListener::from_std(listener).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut byte = [0u8; 1];
        for _ in 0..TRIPS {
            assert_eq!(stream.recv(&mut byte).await.unwrap(), 1);
            stream.send_all(&byte).await.unwrap();
        }
    });
    client.join().unwrap();
    drop(spinner);

    assert!(metrics.yields_held_back > 0, "{metrics:?}");
    assert!(
        metrics.slow_yields <= 50,
        "{} of {TRIPS} round trips waited a slice: {metrics:?}",
        metrics.slow_yields
    );
}

#[test]
fn a_loop_told_to_yield_does_yield() {
    let event_loop = EventLoop::builder()
        .yield_before_sleep(true)
        .build()
        .unwrap();
    event_loop.block_on(async {
        for _ in 0..10 {
            sleep(Duration::from_millis(3)).await;
        }
    });
    let metrics = event_loop.metrics();
    assert!(metrics.yields >= 1, "{metrics:?}");

    let quiet = EventLoop::new().unwrap();
    quiet.block_on(async {
        for _ in 0..10 {
            sleep(Duration::from_millis(3)).await;
        }
    });
    assert_eq!(
        quiet.metrics().yields,
        0,
        "an EventLoop does not yield by default"
    );
}

#[test]
fn a_loop_does_not_yield_with_a_timer_due_within_a_millisecond() {
    let event_loop = EventLoop::builder()
        .yield_before_sleep(true)
        .build()
        .unwrap();
    event_loop.block_on(async {
        for _ in 0..20 {
            sleep(Duration::from_micros(500)).await;
        }
    });
    let metrics = event_loop.metrics();
    assert_eq!(metrics.timers_fired, 20, "{metrics:?}");
    assert_eq!(metrics.yields, 0, "{metrics:?}");
}
