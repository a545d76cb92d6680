//! braid-poller against `polling` and `mio`, side by side on the same workloads:
//!
//! - `notify_round_trip`: a notify followed by the wait that it wakes, on one thread, and
//!   between two threads (a ping-pong through two pollers).
//! - `socket_rounds`: 1,000 socket pairs registered edge-triggered; each round writes one
//!   byte to 10% of them, then waits and drains until all of those were reported.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const PAIRS: usize = 1000;
const READY_PER_ROUND: usize = PAIRS / 10;

fn notify_same_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/notify_round_trip");
    group.bench_function("braid", |b| {
        let poller = braid_poller::Poller::new().unwrap();
        let mut events = braid_poller::Events::with_capacity(64);
        b.iter(|| {
            poller.notify().unwrap();
            poller.wait(&mut events, None).unwrap();
        });
    });
    group.bench_function("polling", |b| {
        let poller = polling::Poller::new().unwrap();
        let mut events = polling::Events::new();
        b.iter(|| {
            poller.notify().unwrap();
            events.clear();
            poller.wait(&mut events, None).unwrap();
        });
    });
    group.bench_function("mio", |b| {
        let mut poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let mut events = mio::Events::with_capacity(64);
        b.iter(|| {
            waker.wake().unwrap();
            poll.poll(&mut events, None).unwrap();
        });
    });
    group.finish();
}

/// Times `iters` round trips between two threads: this thread wakes the echo thread's
/// poller, and the echo thread wakes this one's.
fn ping_pong<P: Send + Sync + 'static>(
    iters: u64,
    make: impl Fn() -> P,
    notify: fn(&P),
    wait: fn(&P, &mut Option<Box<dyn std::any::Any>>),
) -> Duration {
    let ping = Arc::new(make());
    let pong = Arc::new(make());
    let echo = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        thread::spawn(move || {
            let mut scratch = None;
            for _ in 0..iters {
                wait(&ping, &mut scratch);
                notify(&pong);
            }
        })
    };
    let mut scratch = None;
    let start = Instant::now();
    for _ in 0..iters {
        notify(&ping);
        wait(&pong, &mut scratch);
    }
    let elapsed = start.elapsed();
    echo.join().unwrap();
    elapsed
}

/// mio's `Poll::poll` takes `&mut self`, so each side keeps its `Poll` in a mutex that only
/// its own thread locks; the other thread uses just the `Waker`.
struct MioSide {
    poll: Mutex<(mio::Poll, mio::Events)>,
    waker: mio::Waker,
}

fn notify_cross_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/notify_cross_thread");
    group.bench_function("braid", |b| {
        b.iter_custom(|iters| {
            ping_pong(
                iters,
                || braid_poller::Poller::new().unwrap(),
                |p| p.notify().unwrap(),
                |p, scratch| {
                    let events = scratch
                        .get_or_insert_with(|| Box::new(braid_poller::Events::with_capacity(64)))
                        .downcast_mut::<braid_poller::Events>()
                        .unwrap();
                    p.wait(events, None).unwrap();
                },
            )
        });
    });
    group.bench_function("polling", |b| {
        b.iter_custom(|iters| {
            ping_pong(
                iters,
                || polling::Poller::new().unwrap(),
                |p| p.notify().unwrap(),
                |p, scratch| {
                    let events = scratch
                        .get_or_insert_with(|| Box::new(polling::Events::new()))
                        .downcast_mut::<polling::Events>()
                        .unwrap();
                    events.clear();
                    p.wait(events, None).unwrap();
                },
            )
        });
    });
    group.bench_function("mio", |b| {
        b.iter_custom(|iters| {
            ping_pong(
                iters,
                || {
                    let poll = mio::Poll::new().unwrap();
                    let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
                    let events = mio::Events::with_capacity(64);
                    MioSide {
                        poll: Mutex::new((poll, events)),
                        waker,
                    }
                },
                |side| side.waker.wake().unwrap(),
                |side, _| {
                    let mut guard = side.poll.lock().unwrap();
                    let (poll, events) = &mut *guard;
                    poll.poll(events, None).unwrap();
                },
            )
        });
    });
    group.finish();
}

fn pairs() -> Vec<(UnixStream, UnixStream)> {
    (0..PAIRS)
        .map(|_| {
            let (a, b) = UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            (a, b)
        })
        .collect()
}

/// A small deterministic generator, so every library sees the same rounds.
struct Rounds(u64);

impl Rounds {
    /// The indices to make ready this round: 10% of the pairs, spread out.
    fn next(&mut self) -> impl Iterator<Item = usize> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let offset = (self.0 >> 33) as usize % (PAIRS / READY_PER_ROUND);
        (0..READY_PER_ROUND).map(move |k| offset + k * (PAIRS / READY_PER_ROUND))
    }
}

fn write_ready(pairs: &[(UnixStream, UnixStream)], rounds: &mut Rounds) {
    for i in rounds.next() {
        (&pairs[i].0).write_all(b"x").unwrap();
    }
}

fn drain(mut s: &UnixStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("{e}"),
        }
    }
}

fn socket_rounds(c: &mut Criterion) {
    let mut group = c.benchmark_group("poller/socket_rounds_1000x10pct");
    group.bench_function("braid", |b| {
        let pairs = pairs();
        let poller = braid_poller::Poller::new().unwrap();
        for (key, (_, r)) in pairs.iter().enumerate() {
            poller
                .add(
                    r,
                    key,
                    braid_poller::Interest::READABLE,
                    braid_poller::Mode::Edge,
                )
                .unwrap();
        }
        let mut events = braid_poller::Events::new();
        let mut rounds = Rounds(1);
        b.iter(|| {
            write_ready(&pairs, &mut rounds);
            let mut seen = 0;
            while seen < READY_PER_ROUND {
                poller.wait(&mut events, None).unwrap();
                for event in events.iter() {
                    drain(&pairs[event.key()].1);
                    seen += 1;
                }
            }
        });
    });
    group.bench_function("polling", |b| {
        let pairs = pairs();
        let poller = polling::Poller::new().unwrap();
        for (key, (_, r)) in pairs.iter().enumerate() {
            // SAFETY: each descriptor is deleted below before its pair is dropped.
            unsafe {
                poller
                    .add_with_mode(r, polling::Event::readable(key), polling::PollMode::Edge)
                    .unwrap();
            }
        }
        let mut events = polling::Events::new();
        let mut rounds = Rounds(1);
        b.iter(|| {
            write_ready(&pairs, &mut rounds);
            let mut seen = 0;
            while seen < READY_PER_ROUND {
                events.clear();
                poller.wait(&mut events, None).unwrap();
                for event in events.iter() {
                    drain(&pairs[event.key].1);
                    seen += 1;
                }
            }
        });
        for (_, r) in &pairs {
            poller.delete(r).unwrap();
        }
    });
    group.bench_function("mio", |b| {
        let pairs = pairs();
        let mut poll = mio::Poll::new().unwrap();
        for (key, (_, r)) in pairs.iter().enumerate() {
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(&r.as_raw_fd()),
                    mio::Token(key),
                    mio::Interest::READABLE,
                )
                .unwrap();
        }
        let mut events = mio::Events::with_capacity(1024);
        let mut rounds = Rounds(1);
        b.iter(|| {
            write_ready(&pairs, &mut rounds);
            let mut seen = 0;
            while seen < READY_PER_ROUND {
                poll.poll(&mut events, None).unwrap();
                for event in events.iter() {
                    drain(&pairs[event.token().0].1);
                    seen += 1;
                }
            }
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    notify_same_thread,
    notify_cross_thread,
    socket_rounds
);
criterion_main!(benches);
