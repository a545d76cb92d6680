//! A finished loop leaves nothing behind: its tasks, sockets, timers, blocking threads and
//! child watchers are all released. Alone in its binary, so that no other test opens
//! descriptors while this one counts them.

#![cfg(target_os = "linux")]

mod common;

use std::future::{pending, poll_fn};
use std::task::{Poll, Waker};
use std::time::Duration;

use braid_executor::net::{UdpSocket, UnixStream};
use braid_executor::process::Command;
use braid_executor::{sleep, spawn, spawn_blocking, yield_now, EventLoop, Task};
use common::within;

/// One short program that touches everything a loop owns, and leaves some of it behind
/// for the loop's end to clean up.
///
/// Returns what a program may well keep after its loop ended: a waker of one of the loop's
/// tasks (left, say, in a registry another thread owns) and a finished task's handle.
fn one_loop(round: usize) -> (Waker, Task<usize>) {
    // `run` is this, with no way to reach the handle.
    let event_loop = EventLoop::new().unwrap();
    let handle = event_loop.handle();
    let kept = event_loop.block_on(async move {
        // A socket pair in use, and one left waiting in a task when the loop ends.
        let (a, b) = UnixStream::pair().unwrap();
        let reader = spawn(async move {
            let mut buf = [0u8; 4];
            let n = b.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        a.send(b"ping").await.unwrap();
        assert_eq!(reader.await.unwrap(), b"ping");
        let (left, _other) = UnixStream::pair().unwrap();
        spawn(async move {
            let mut buf = [0u8; 1];
            let _ = left.recv(&mut buf).await;
        })
        .detach();

        // A UDP socket, a fired timer and one still pending at the end.
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        drop(udp);
        sleep(Duration::from_micros(100)).await;
        spawn(sleep(Duration::from_secs(3600))).detach();
        spawn(pending::<()>()).detach();
        for _ in 0..3 {
            spawn(yield_now()).await.unwrap();
        }

        // A signal listener: the loop's wake-up socket pair for signals, and the handler.
        let mut usr2 = braid_executor::signal::signal(libc::SIGUSR2).unwrap();
        if round % 2 == 0 {
            // SAFETY: `raise` has no preconditions; SIGUSR2 has braid's handler now.
            unsafe { libc::raise(libc::SIGUSR2) };
            assert_eq!(usr2.recv().await, Some(()));
        }

        // A task spawned from another thread through the loop's handle.
        let remote = std::thread::spawn(move || handle.spawn(async { 5 }).unwrap())
            .join()
            .unwrap();
        assert_eq!(remote.await.unwrap(), 5);

        // A blocking job, which starts a thread that the loop's end must let go.
        assert_eq!(spawn_blocking(move || round).await.unwrap(), round);

        // Child watchers: one child waited for, and now and then one left running.
        if round % 10 == 0 {
            let status = Command::new("true").spawn().unwrap().wait().await.unwrap();
            assert!(status.success());
        }
        if round % 50 == 0 {
            let child = Command::new("sleep")
                .arg("30")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            spawn(async move {
                let mut child = child;
                let _ = child.wait().await;
            })
            .detach();
        }

        let (waker_tx, waker_rx) = std::sync::mpsc::channel();
        spawn(poll_fn(move |cx| {
            waker_tx.send(cx.waker().clone()).unwrap();
            Poll::<()>::Pending
        }))
        .detach();
        let finished = spawn(async move { round });
        while !finished.is_finished() {
            yield_now().await;
        }
        (waker_rx.recv().unwrap(), finished)
    });
    drop(event_loop);
    kept
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident memory in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap()
}

/// Our children that are still alive or not yet reaped.
fn children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid ...`: the comm may hold spaces, so split after `)`.
            let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1) == Some(me.as_str())
        })
        .count()
}

#[test]
fn a_thousand_loops_in_a_row_leak_no_descriptors_and_little_memory() {
    within(Duration::from_secs(300), || {
        let mut kept = Vec::new();
        for round in 0..100 {
            kept.push(one_loop(round));
        }
        let fds = open_fds();
        let memory = rss();
        for round in 100..1000 {
            kept.push(one_loop(round));
        }
        let fds_after = open_fds();
        let memory_after = rss();
        eprintln!(
            "after 100 loops: {fds} fds, {} KiB; after 1000: {fds_after} fds, {} KiB",
            memory / 1024,
            memory_after / 1024
        );
        assert_eq!(fds_after, fds, "descriptors leaked by 900 finished loops");
        // The children left running were killed at their loop's end and reaped by a later
        // sweep; the last one may still wait for the next.
        assert!(children() <= 1, "{} children left behind", children());
        // What was kept still works: waking a finished loop's task is a no-op.
        for (waker, task) in &kept {
            waker.wake_by_ref();
            assert!(task.is_finished());
        }
        drop(kept);
        let growth = memory_after.saturating_sub(memory);
        assert!(
            growth < 4 << 20,
            "900 finished loops grew the resident memory by {} KiB",
            growth / 1024
        );
    });
}
