//! How long to measure, and the timing loop every workload shares.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::measurement::{Cell, Unit};
use crate::python::Python;

/// How a comparison run is carried out.
#[derive(Debug)]
pub struct Settings {
    /// Smaller sizes and fewer samples, for a run of under two minutes.
    pub quick: bool,
    /// Untimed runs before the samples.
    pub warmups: u32,
    /// Timed runs; the median is reported.
    pub samples: u32,
    /// The interpreter for the Python baselines, or why there is none.
    pub python: Result<Python, String>,
    /// Whether a missing uvloop may be installed with pip.
    pub install_missing: bool,
}

impl Settings {
    /// Settings for a full run (`quick == false`) or a quick one, with no Python yet.
    pub fn new(quick: bool) -> Settings {
        Settings {
            quick,
            warmups: 1,
            samples: if quick { 5 } else { 7 },
            python: Err("python3 was not looked for".into()),
            install_missing: false,
        }
    }

    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }

    /// Runs `sample` for the warm-ups, then the samples, and returns the median of the
    /// durations the samples report (each times just the part it measures).
    ///
    /// # Errors
    ///
    /// The first error a run returns.
    pub fn median(&self, mut sample: impl FnMut() -> io::Result<Duration>) -> io::Result<Duration> {
        for _ in 0..self.warmups {
            sample()?;
        }
        let mut times = (0..self.samples.max(1))
            .map(|_| sample())
            .collect::<io::Result<Vec<_>>>()?;
        times.sort();
        Ok(times[times.len() / 2])
    }

    /// Measures one contender: the median duration of a run of `ops` operations, expressed
    /// in `unit`. An error or a panic becomes a missing cell that says what went wrong, so
    /// one broken contender never stops the comparison.
    pub fn measure(
        &self,
        unit: Unit,
        ops: u64,
        sample: impl FnMut() -> io::Result<Duration>,
    ) -> Cell {
        match panic::catch_unwind(AssertUnwindSafe(|| self.median(sample))) {
            Ok(Ok(median)) => Cell::Value(in_unit(median, ops, unit)),
            Ok(Err(error)) => Cell::Missing(format!("failed: {error}")),
            Err(payload) => Cell::Missing(format!("panicked: {}", panic_message(&*payload))),
        }
    }
}

/// `elapsed` for `ops` operations, in `unit` (a time or a throughput).
///
/// # Panics
///
/// Panics for a memory unit or a speedup, which no duration converts to.
pub fn in_unit(elapsed: Duration, ops: u64, unit: Unit) -> f64 {
    let secs = elapsed.as_secs_f64();
    let ops = ops.max(1) as f64;
    match unit {
        Unit::NsPerOp => secs * 1e9 / ops,
        Unit::UsPerOp => secs * 1e6 / ops,
        Unit::Ms => secs * 1e3,
        Unit::KOpsPerSec => ops / secs / 1e3,
        Unit::MiB | Unit::BytesPerTask | Unit::Speedup => panic!("{unit} is not a time"),
    }
}

/// `Ok` when `ok`, else an error that says `what` went wrong: a workload checks its results
/// so that a contender that skips work cannot look fast.
pub(crate) fn check(ok: bool, what: &str) -> io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(what.to_string()))
    }
}

/// Checks the sum of the results of `n` tasks that returned 0, 1, …, `n` - 1.
pub(crate) fn check_sum(sum: u64, n: u64) -> io::Result<()> {
    check(
        sum == n * n.saturating_sub(1) / 2,
        "the results did not add up",
    )
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_runs_warmups_then_samples_and_takes_the_middle() {
        let mut settings = Settings::new(false);
        settings.warmups = 2;
        settings.samples = 3;
        let mut calls = 0u64;
        let median = settings
            .median(|| {
                calls += 1;
                // Warm-ups report 100 s, which must not count; samples report 3, 4, 5 s.
                Ok(Duration::from_secs(if calls <= 2 { 100 } else { calls }))
            })
            .unwrap();
        assert_eq!(calls, 5);
        assert_eq!(median, Duration::from_secs(4));
    }

    #[test]
    fn measure_turns_errors_and_panics_into_missing_cells() {
        let settings = Settings::new(true);
        let failed = settings.measure(Unit::Ms, 1, || Err(io::Error::other("no sockets")));
        assert_eq!(failed, Cell::Missing("failed: no sockets".into()));
        let panicked = settings.measure(Unit::Ms, 1, || panic!("boom"));
        assert_eq!(panicked, Cell::Missing("panicked: boom".into()));
    }

    #[test]
    fn checks_turn_wrong_results_into_errors() {
        assert!(check(true, "x").is_ok());
        assert_eq!(check(false, "lost").unwrap_err().to_string(), "lost");
        assert!(check_sum(45, 10).is_ok());
        assert!(check_sum(0, 0).is_ok());
        assert!(check_sum(44, 10).is_err());
    }

    #[test]
    fn units_convert_durations() {
        let second = Duration::from_secs(1);
        assert_eq!(in_unit(second, 1000, Unit::UsPerOp), 1000.0);
        assert_eq!(in_unit(second, 1000, Unit::NsPerOp), 1_000_000.0);
        assert_eq!(in_unit(second, 1000, Unit::Ms), 1000.0);
        assert_eq!(in_unit(second, 5000, Unit::KOpsPerSec), 5.0);
    }
}
