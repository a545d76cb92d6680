//! The slow-poll warning. Alone in its binary: `tracing` caches per call site whether
//! anyone listens, and a test without a subscriber hitting the same call site at the same
//! time could make this one miss its event.

mod common;

use std::time::Duration;

use braid_executor::{spawn, EventLoop};
use common::Capture;

#[test]
fn a_slow_poll_warning_names_where_the_task_was_spawned() {
    let capture = Capture::default();
    let subscriber = capture.subscriber();
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
    let log = capture.text();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains(&format!("slow_poll.rs:{spawned_at}:")),
        "{log}"
    );
}

#[test]
fn a_slow_poll_of_the_main_future_names_where_block_on_was_called() {
    let capture = Capture::default();
    let subscriber = capture.subscriber();
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
    let log = capture.text();
    assert!(log.contains("the main future blocked"), "{log}");
    assert!(log.contains(&format!("slow_poll.rs:{called_at}:")), "{log}");
}

/// The child's half of [`without_a_subscriber_the_first_slow_poll_at_each_place_goes_to_stderr`]:
/// run in a process of its own, since what it checks is that process's stderr and what
/// `tracing` has cached about its call sites.
#[test]
#[ignore = "run by without_a_subscriber_the_first_slow_poll_at_each_place_goes_to_stderr"]
fn slow_polls_in_a_child_process() {
    let event_loop = EventLoop::builder()
        .slow_poll_threshold(Duration::from_millis(1))
        .build()
        .unwrap();
    let block = || std::thread::sleep(Duration::from_millis(20));
    // The main future: one slow poll, at this `block_on`.
    event_loop.block_on(async move {
        block();
        // Three slow polls spawned at one place, two at another.
        let mut tasks = Vec::new();
        for _ in 0..3 {
            tasks.push(spawn(async move { block() }));
        }
        for _ in 0..2 {
            tasks.push(spawn(async move { block() }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Most polls of the main future above take microseconds, but one that starts a coarse
    // clock tick before the next may read as a tick (a few ms): at least the six sleeps.
    let printed_polls = event_loop.metrics().slow_polls;
    assert!(printed_polls >= 6, "{printed_polls}");

    // With a subscriber, the warning goes there and not to stderr.
    let capture = Capture::default();
    let subscriber = capture.subscriber();
    tracing::subscriber::with_default(subscriber, || {
        event_loop.block_on(async move {
            spawn(async move { block() }).await.unwrap();
        });
    });
    let log = capture.text();
    assert!(log.contains("a task blocked the braid event loop"), "{log}");
}

#[test]
fn without_a_subscriber_the_first_slow_poll_at_each_place_goes_to_stderr() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "slow_polls_in_a_child_process", "--ignored"])
        .args(["--nocapture", "--test-threads", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("braid: "))
        .collect();
    // The main future's place and the two spawn places, once each; nothing from the task
    // spawned while a subscriber listened.
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("the future given to block_on/run at")
            && lines[0].contains("slow_poll.rs:"),
        "{stderr}"
    );
    for line in &lines[1..] {
        assert!(line.contains("a task spawned at"), "{stderr}");
        assert!(line.contains("slow_poll.rs:"), "{stderr}");
        assert!(
            line.contains("slow_poll_threshold(Duration::MAX)"),
            "{stderr}"
        );
    }
    assert_ne!(lines[1], lines[2], "two places, two lines");
}

/// Time the loop spends asleep in the poller, or between two `block_on` calls, is nobody's
/// poll time: the main future's polls start on a clock read after the wait, never on one
/// carried from before it.
#[test]
fn waiting_in_the_poller_or_between_block_ons_is_not_a_slow_poll() {
    let event_loop = EventLoop::builder()
        .slow_poll_threshold(Duration::from_millis(60))
        .build()
        .unwrap();
    event_loop.block_on(async {
        // Pending across a sleep in the poller, with a task keeping the turns going first.
        let busy = spawn(async {
            for _ in 0..100 {
                braid_executor::yield_now().await;
            }
        });
        busy.await.unwrap();
        braid_executor::sleep(Duration::from_millis(200)).await;
    });
    std::thread::sleep(Duration::from_millis(200));
    event_loop.block_on(async {});
    event_loop.block_on(async { braid_executor::yield_now().await });
    assert_eq!(event_loop.metrics().slow_polls, 0);
}

/// The loop's own work between two polls (here: firing two hundred thousand timers at once,
/// in a turn that did not sleep because a task kept it busy) is nobody's poll time either.
#[test]
fn the_loops_own_work_between_polls_is_not_billed_to_the_next_poll() {
    let event_loop = EventLoop::builder()
        .slow_poll_threshold(Duration::from_millis(40))
        .build()
        .unwrap();
    event_loop.block_on(async {
        // All due at one instant, spawned a thousand per poll so that no poll is slow.
        let due = std::time::Instant::now() + Duration::from_millis(1_000);
        let mut sleepers = Vec::new();
        for _ in 0..200 {
            for _ in 0..1_000 {
                sleepers.push(spawn(braid_executor::sleep_until(due)));
            }
            braid_executor::yield_now().await;
        }
        // Keeps every turn busy, so the timers fire in turns that do not sleep.
        let busy = spawn(async {
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(1_500) {
                braid_executor::yield_now().await;
            }
        });
        // The main future is polled after each of those turns.
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(1_500) {
            braid_executor::yield_now().await;
        }
        busy.await.unwrap();
        for sleeper in sleepers {
            sleeper.await.unwrap();
        }
    });
    let metrics = event_loop.metrics();
    assert_eq!(metrics.timers_fired, 200_000, "{metrics:?}");
    assert_eq!(metrics.slow_polls, 0, "{metrics:?}");
}
