//! Reporting a poll that blocked the loop: to `tracing` when a subscriber listens, otherwise
//! one line on stderr for the first slow poll at each place.
//!
//! A program with no `tracing` subscriber would never see a warning that only goes to
//! `tracing`, and the point of the warning is to be seen (asyncio's debug mode writes to
//! stderr through `logging`'s last-resort handler). One line per place, not per poll: a task
//! that blocks does so again and again, and a line per poll would bury everything else.

use std::collections::BTreeSet;
use std::io::Write;
use std::panic::Location;
use std::sync::Mutex;
use std::time::Duration;

use tracing::subscriber::NoSubscriber;

/// What a slow poll polled, and where it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Polled {
    /// A task, spawned there.
    Task(&'static Location<'static>),
    /// The future given to `block_on` or `run`, called there.
    Main(&'static Location<'static>),
}

/// The places whose first slow poll has been written to stderr, in this process: several
/// loops (a [`Runtime`](crate::Runtime)'s) running the same code say it once.
static PRINTED: Mutex<BTreeSet<(&str, u32, u32)>> = Mutex::new(BTreeSet::new());

/// Reports one slow poll that took `took`, over `threshold`.
#[cold]
pub(crate) fn report(polled: Polled, took: Duration, threshold: Duration) {
    if tracing::dispatcher::get_default(|dispatch| !dispatch.is::<NoSubscriber>()) {
        match polled {
            Polled::Task(location) => tracing::warn!(
                spawned_at = %location,
                took = ?took,
                threshold = ?threshold,
                "a task blocked the braid event loop: one poll took longer than the slow-poll threshold"
            ),
            Polled::Main(location) => tracing::warn!(
                block_on_at = %location,
                took = ?took,
                threshold = ?threshold,
                "the main future blocked the braid event loop: one poll took longer than the slow-poll threshold"
            ),
        }
        return;
    }
    let (what, location) = match polled {
        Polled::Task(location) => ("a task spawned at", location),
        Polled::Main(location) => ("the future given to block_on/run at", location),
    };
    let site = (location.file(), location.line(), location.column());
    let first = PRINTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(site);
    if first {
        // Rounded: the coarse clock's nanoseconds are noise.
        let took = Duration::from_millis(((took.as_micros() + 500) / 1000) as u64);
        // Written directly, not with `eprintln!`, which panics when stderr is a closed pipe:
        // a diagnostic must not bring the loop down.
        let _ = writeln!(
            std::io::stderr(),
            "braid: {what} {location} blocked the event loop for {took:?} (slow-poll \
             threshold {threshold:?}); later slow polls there are only counted in metrics(). \
             A tracing subscriber gets each one; slow_poll_threshold(Duration::MAX) turns \
             this off."
        );
    }
}
