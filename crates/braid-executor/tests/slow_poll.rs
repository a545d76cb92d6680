//! The slow-poll warning. Alone in its binary: `tracing` caches per call site whether
//! anyone listens, and a test without a subscriber hitting the same call site at the same
//! time could make this one miss its event.

use std::sync::Arc;
use std::time::Duration;

use braid_executor::{spawn, EventLoop};

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_slow_poll_warning_names_where_the_task_was_spawned() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let spawned_at = tracing::subscriber::with_default(subscriber, || {
        let event_loop = EventLoop::builder()
            .slow_poll_threshold(Duration::from_millis(20))
            .build()
            .unwrap();
        event_loop.block_on(async {
            let line = line!() + 1;
            let slow = spawn(async { std::thread::sleep(Duration::from_millis(50)) });
            slow.await.unwrap();
            line
        })
    });
    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains(&format!("slow_poll.rs:{spawned_at}:")),
        "{log}"
    );
}

#[test]
fn a_slow_poll_of_the_main_future_names_where_block_on_was_called() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let called_at = tracing::subscriber::with_default(subscriber, || {
        let event_loop = EventLoop::builder()
            .slow_poll_threshold(Duration::from_millis(1))
            .build()
            .unwrap();
        let line = line!() + 1;
        event_loop.block_on(async { std::thread::sleep(Duration::from_millis(20)) });
        assert_eq!(event_loop.metrics().slow_polls, 1);
        line
    });
    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("the main future blocked"), "{log}");
    assert!(log.contains(&format!("slow_poll.rs:{called_at}:")), "{log}");
}
