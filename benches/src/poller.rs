//! braid-poller against `polling` and `mio`.
//!
//! - notify round trip on one thread: a notify, then the wait it ends;
//! - notify round trip between two threads: each wakes the other's poller in turn;
//! - socket rounds: 1,000 socket pairs registered edge-triggered; each round writes a byte
//!   to 10% of them, then waits and drains until every one of those was reported.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::measurement::{LayerReport, Peer, Unit};
use crate::settings::{Contender, Settings};

/// The layer's name.
pub const LAYER: &str = "poller";

const PAIRS: usize = 1000;
const READY_PER_ROUND: usize = PAIRS / 10;

/// Measures every poller workload for braid, `polling` and `mio`.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(LAYER, vec![Peer::rival("polling"), Peer::rival("mio")]);

    let n = settings.pick(200_000, 50_000);
    let (braid, peers) = settings.side_by_side(
        Unit::NsPerOp,
        n,
        Contender::runs(|| notify_one_thread_braid(n)),
        vec![
            Contender::runs(|| notify_one_thread_polling(n)),
            Contender::runs(|| notify_one_thread_mio(n)),
        ],
    );
    layer.push("notify round trip, one thread", Unit::NsPerOp, braid, peers);

    let n = settings.pick(20_000, 5_000);
    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        n,
        Contender::runs(|| notify_two_threads_braid(n)),
        vec![
            Contender::runs(|| notify_two_threads_polling(n)),
            Contender::runs(|| notify_two_threads_mio(n)),
        ],
    );
    layer.push(
        "notify round trip, two threads",
        Unit::UsPerOp,
        braid,
        peers,
    );

    let rounds = settings.pick(500, 200);
    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        rounds,
        Contender::runs(|| socket_rounds_braid(rounds)),
        vec![
            Contender::runs(|| socket_rounds_polling(rounds)),
            Contender::runs(|| socket_rounds_mio(rounds)),
        ],
    );
    layer.push(
        "1,000 socket pairs, 10% ready per round",
        Unit::UsPerOp,
        braid,
        peers,
    );
    layer.note(
        "socket rounds are µs per round of 100 ready sockets; notify rows are per round trip",
    );
    layer
}

/// A poller seen only through its cross-thread wake and a wait for it.
trait Wakeable: Sized + Send + Sync + 'static {
    type Events;
    fn create() -> io::Result<Self>;
    fn events() -> Self::Events;
    fn wake(&self) -> io::Result<()>;
    fn wait_for_wake(&self, events: &mut Self::Events) -> io::Result<()>;
}

impl Wakeable for braid_poller::Poller {
    type Events = braid_poller::Events;
    fn create() -> io::Result<Self> {
        braid_poller::Poller::new()
    }
    fn events() -> Self::Events {
        braid_poller::Events::with_capacity(64)
    }
    fn wake(&self) -> io::Result<()> {
        self.notify()
    }
    fn wait_for_wake(&self, events: &mut Self::Events) -> io::Result<()> {
        self.wait(events, None).map(drop)
    }
}

impl Wakeable for polling::Poller {
    type Events = polling::Events;
    fn create() -> io::Result<Self> {
        polling::Poller::new()
    }
    fn events() -> Self::Events {
        polling::Events::new()
    }
    fn wake(&self) -> io::Result<()> {
        self.notify()
    }
    fn wait_for_wake(&self, events: &mut Self::Events) -> io::Result<()> {
        events.clear();
        self.wait(events, None).map(drop)
    }
}

/// mio's `Poll::poll` takes `&mut self`, so the poll sits in a mutex that only its own
/// thread locks; the other thread uses just the `Waker`.
struct MioSide {
    poll: Mutex<mio::Poll>,
    waker: mio::Waker,
}

impl Wakeable for MioSide {
    type Events = mio::Events;
    fn create() -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), mio::Token(0))?;
        Ok(MioSide {
            poll: Mutex::new(poll),
            waker,
        })
    }
    fn events() -> Self::Events {
        mio::Events::with_capacity(64)
    }
    fn wake(&self) -> io::Result<()> {
        self.waker.wake()
    }
    fn wait_for_wake(&self, events: &mut Self::Events) -> io::Result<()> {
        self.poll
            .lock()
            .expect("only this thread locks it")
            .poll(events, None)
    }
}

/// Times `n` notify round trips on one thread with braid-poller: a notify, then the wait it
/// ends.
///
/// # Errors
///
/// Any error from the poller.
pub fn notify_one_thread_braid(n: u64) -> io::Result<Duration> {
    same_thread::<braid_poller::Poller>(n)
}

/// [`notify_one_thread_braid`] with `polling`.
///
/// # Errors
///
/// Any error from the poller.
pub fn notify_one_thread_polling(n: u64) -> io::Result<Duration> {
    same_thread::<polling::Poller>(n)
}

/// [`notify_one_thread_braid`] with `mio`'s `Waker`.
///
/// # Errors
///
/// Any error from the poll.
pub fn notify_one_thread_mio(n: u64) -> io::Result<Duration> {
    same_thread::<MioSide>(n)
}

/// Times `n` notify round trips between two threads with braid-poller: this thread wakes
/// an echo thread's poller, which wakes this one's.
///
/// # Errors
///
/// Any error from the pollers, or an echo thread that panicked.
pub fn notify_two_threads_braid(n: u64) -> io::Result<Duration> {
    ping_pong::<braid_poller::Poller>(n)
}

/// [`notify_two_threads_braid`] with `polling`.
///
/// # Errors
///
/// Any error from the pollers, or an echo thread that panicked.
pub fn notify_two_threads_polling(n: u64) -> io::Result<Duration> {
    ping_pong::<polling::Poller>(n)
}

/// [`notify_two_threads_braid`] with `mio`'s `Waker`.
///
/// # Errors
///
/// Any error from the polls, or an echo thread that panicked.
pub fn notify_two_threads_mio(n: u64) -> io::Result<Duration> {
    ping_pong::<MioSide>(n)
}

fn same_thread<P: Wakeable>(n: u64) -> io::Result<Duration> {
    let poller = P::create()?;
    let mut events = P::events();
    let start = Instant::now();
    for _ in 0..n {
        poller.wake()?;
        poller.wait_for_wake(&mut events)?;
    }
    Ok(start.elapsed())
}

/// `n` round trips: this thread wakes the echo thread's poller, which wakes this one's.
fn ping_pong<P: Wakeable>(n: u64) -> io::Result<Duration> {
    let ping = Arc::new(P::create()?);
    let pong = Arc::new(P::create()?);
    let echo = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        thread::spawn(move || -> io::Result<()> {
            let mut events = P::events();
            for _ in 0..n {
                ping.wait_for_wake(&mut events)?;
                pong.wake()?;
            }
            Ok(())
        })
    };
    let mut events = P::events();
    let start = Instant::now();
    for _ in 0..n {
        ping.wake()?;
        pong.wait_for_wake(&mut events)?;
    }
    let elapsed = start.elapsed();
    echo.join()
        .map_err(|_| io::Error::other("the echo thread panicked"))??;
    Ok(elapsed)
}

fn socket_pairs() -> io::Result<Vec<(UnixStream, UnixStream)>> {
    (0..PAIRS)
        .map(|_| {
            let (a, b) = UnixStream::pair()?;
            a.set_nonblocking(true)?;
            b.set_nonblocking(true)?;
            Ok((a, b))
        })
        .collect()
}

/// A small deterministic generator, so every poller sees the same rounds.
struct Rounds(u64);

impl Rounds {
    /// The pairs to make ready this round: 10% of them, spread out.
    fn next(&mut self) -> impl Iterator<Item = usize> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let stride = PAIRS / READY_PER_ROUND;
        let offset = (self.0 >> 33) as usize % stride;
        (0..READY_PER_ROUND).map(move |k| offset + k * stride)
    }
}

fn write_ready(pairs: &[(UnixStream, UnixStream)], rounds: &mut Rounds) -> io::Result<()> {
    for i in rounds.next() {
        (&pairs[i].0).write_all(b"x")?;
    }
    Ok(())
}

fn drain(mut stream: &UnixStream) -> io::Result<()> {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Times `rounds` socket rounds with braid-poller: 1,000 socket pairs registered
/// edge-triggered, each round writing a byte to 10% of them and waiting and draining until
/// every one of those was reported.
///
/// # Errors
///
/// Any error making the sockets or from the poller.
pub fn socket_rounds_braid(rounds: u64) -> io::Result<Duration> {
    let pairs = socket_pairs()?;
    let poller = braid_poller::Poller::new()?;
    for (key, (_, r)) in pairs.iter().enumerate() {
        poller.add(
            r,
            key,
            braid_poller::Interest::READABLE,
            braid_poller::Mode::Edge,
        )?;
    }
    let mut events = braid_poller::Events::with_capacity(1024);
    let mut generator = Rounds(1);
    let start = Instant::now();
    for _ in 0..rounds {
        write_ready(&pairs, &mut generator)?;
        let mut seen = 0;
        while seen < READY_PER_ROUND {
            poller.wait(&mut events, None)?;
            for event in events.iter() {
                drain(&pairs[event.key()].1)?;
                seen += 1;
            }
        }
    }
    Ok(start.elapsed())
}

/// [`socket_rounds_braid`] with `polling`.
///
/// # Errors
///
/// Any error making the sockets or from the poller.
pub fn socket_rounds_polling(rounds: u64) -> io::Result<Duration> {
    let pairs = socket_pairs()?;
    let poller = polling::Poller::new()?;
    for (key, (_, r)) in pairs.iter().enumerate() {
        // SAFETY: every descriptor is deleted from the poller below, before `pairs` drops.
        unsafe { poller.add_with_mode(r, polling::Event::readable(key), polling::PollMode::Edge)? };
    }
    let mut events =
        polling::Events::with_capacity(std::num::NonZeroUsize::new(1024).expect("not zero"));
    let mut generator = Rounds(1);
    // Run as a closure so that an error still reaches the deletes below.
    let mut timed = || -> io::Result<Duration> {
        let start = Instant::now();
        for _ in 0..rounds {
            write_ready(&pairs, &mut generator)?;
            let mut seen = 0;
            while seen < READY_PER_ROUND {
                events.clear();
                poller.wait(&mut events, None)?;
                for event in events.iter() {
                    drain(&pairs[event.key].1)?;
                    seen += 1;
                }
            }
        }
        Ok(start.elapsed())
    };
    let outcome = timed();
    for (_, r) in &pairs {
        poller.delete(r)?;
    }
    outcome
}

/// [`socket_rounds_braid`] with `mio`.
///
/// # Errors
///
/// Any error making the sockets or from the poll.
pub fn socket_rounds_mio(rounds: u64) -> io::Result<Duration> {
    let pairs = socket_pairs()?;
    let mut poll = mio::Poll::new()?;
    for (key, (_, r)) in pairs.iter().enumerate() {
        poll.registry().register(
            &mut mio::unix::SourceFd(&r.as_raw_fd()),
            mio::Token(key),
            mio::Interest::READABLE,
        )?;
    }
    let mut events = mio::Events::with_capacity(1024);
    let mut generator = Rounds(1);
    let start = Instant::now();
    for _ in 0..rounds {
        write_ready(&pairs, &mut generator)?;
        let mut seen = 0;
        while seen < READY_PER_ROUND {
            poll.poll(&mut events, None)?;
            for event in events.iter() {
                drain(&pairs[event.token().0].1)?;
                seen += 1;
            }
        }
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pick_a_tenth_of_the_pairs_without_repeats() {
        let mut rounds = Rounds(1);
        for _ in 0..10 {
            let mut picked: Vec<usize> = rounds.next().collect();
            assert_eq!(picked.len(), READY_PER_ROUND);
            picked.sort();
            picked.dedup();
            assert_eq!(picked.len(), READY_PER_ROUND);
            assert!(picked.iter().all(|&i| i < PAIRS));
        }
    }

    #[test]
    fn every_contender_completes_a_small_run() {
        for result in [
            same_thread::<braid_poller::Poller>(10),
            same_thread::<polling::Poller>(10),
            same_thread::<MioSide>(10),
            ping_pong::<braid_poller::Poller>(10),
            ping_pong::<polling::Poller>(10),
            ping_pong::<MioSide>(10),
            socket_rounds_braid(3),
            socket_rounds_polling(3),
            socket_rounds_mio(3),
        ] {
            result.unwrap();
        }
    }
}
