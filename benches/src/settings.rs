//! How long to measure, and the timing loop every workload shares.
//!
//! The contenders of one row are measured interleaved: each round runs every contender once,
//! starting with a different one each round, so a change in load part-way through a run (other
//! processes, the CPU clock, the page cache) falls on every contender alike instead of on
//! whichever one happened to be measured at that moment.

use std::any::Any;
use std::fmt;
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
    /// Untimed rounds before the samples.
    pub warmups: u32,
    /// Timed rounds; the median of each contender's samples is reported.
    pub samples: u32,
    /// The interpreter for the Python baselines, or why there is none.
    pub python: Result<Python, String>,
    /// Whether a missing uvloop may be installed with pip.
    pub install_missing: bool,
}

/// One timed run of a contender: it returns the duration of just the part it measures.
type Sample<'a> = Box<dyn FnMut() -> io::Result<Duration> + 'a>;

/// One contender of a row, as [`Settings::side_by_side`] takes it: something to run, or a
/// cell that is already known.
pub enum Contender<'a> {
    /// Timed once per round; the median of its samples becomes its cell.
    Runs(Sample<'a>),
    /// Not run here: no counterpart (`-`), a reason it cannot run (`n/a`), or a value
    /// measured some other way.
    Known(Cell),
}

impl<'a> Contender<'a> {
    /// A contender timed by `sample`, which returns the duration of the part it measures.
    pub fn runs(sample: impl FnMut() -> io::Result<Duration> + 'a) -> Contender<'a> {
        Contender::Runs(Box::new(sample))
    }

    /// A contender with no counterpart for the workload, shown as `-`.
    pub fn not_applicable() -> Contender<'a> {
        Contender::Known(Cell::NotApplicable)
    }
}

impl From<Cell> for Contender<'_> {
    fn from(cell: Cell) -> Self {
        Contender::Known(cell)
    }
}

impl fmt::Debug for Contender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contender::Runs(_) => f.write_str("Runs(..)"),
            Contender::Known(cell) => f.debug_tuple("Known").field(cell).finish(),
        }
    }
}

/// Where a contender stands part-way through [`Settings::interleave`].
enum Progress<'a> {
    Running {
        sample: Sample<'a>,
        times: Vec<Duration>,
    },
    Finished(Cell),
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

    /// Measures one row: `braid` and each of `peers` (in the layer's column order), every
    /// one doing `ops` operations per run, interleaved as [`Settings::interleave`] does.
    /// Returns braid's cell and one cell per peer, in `unit`.
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::{Cell, Contender, Settings, Unit};
    /// use std::time::Duration;
    ///
    /// let settings = Settings::new(true);
    /// let (braid, peers) = settings.side_by_side(
    ///     Unit::Ms,
    ///     1,
    ///     Contender::runs(|| Ok(Duration::from_millis(2))),
    ///     vec![Contender::runs(|| Ok(Duration::from_millis(3))), Contender::not_applicable()],
    /// );
    /// assert_eq!(braid, Cell::Value(2.0));
    /// assert_eq!(peers, [Cell::Value(3.0), Cell::NotApplicable]);
    /// ```
    pub fn side_by_side<'a>(
        &self,
        unit: Unit,
        ops: u64,
        braid: Contender<'a>,
        peers: Vec<Contender<'a>>,
    ) -> (Cell, Vec<Cell>) {
        let mut contenders = Vec::with_capacity(peers.len() + 1);
        contenders.push(braid);
        contenders.extend(peers);
        let mut cells = self.interleave(unit, ops, contenders);
        let braid = cells.remove(0);
        (braid, cells)
    }

    /// Measures `contenders` side by side, every one doing `ops` operations per run, and
    /// returns one cell per contender, in the same order and in `unit`.
    ///
    /// It runs [`Settings::warmups`] untimed rounds, then [`Settings::samples`] timed ones
    /// (at least one). Each round runs every contender that can run once, and the round
    /// after starts one contender further along, so none is always first. A contender's
    /// cell is the median of its samples. A [`Contender::Known`] cell is passed through.
    ///
    /// An error or a panic in any run, warm-up or sample, turns that contender into a
    /// missing cell that says what went wrong, and it is not run again; the others carry
    /// on, so one broken contender never stops the comparison.
    pub fn interleave(&self, unit: Unit, ops: u64, contenders: Vec<Contender<'_>>) -> Vec<Cell> {
        let samples = self.samples.max(1);
        let mut progress: Vec<Progress<'_>> = contenders
            .into_iter()
            .map(|contender| match contender {
                Contender::Runs(sample) => Progress::Running {
                    sample,
                    times: Vec::with_capacity(samples as usize),
                },
                Contender::Known(cell) => Progress::Finished(cell),
            })
            .collect();
        let mut running: Vec<usize> = Vec::with_capacity(progress.len());
        for round in 0..self.warmups + samples {
            running.clear();
            running.extend(
                progress
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| matches!(p, Progress::Running { .. }))
                    .map(|(i, _)| i),
            );
            if running.is_empty() {
                break;
            }
            let first = round as usize % running.len();
            let (later, earlier) = running.split_at(first);
            for &i in earlier.iter().chain(later) {
                let Progress::Running { sample, times } = &mut progress[i] else {
                    continue;
                };
                match run_once(sample) {
                    Ok(elapsed) if round >= self.warmups => times.push(elapsed),
                    Ok(_) => {}
                    Err(why) => progress[i] = Progress::Finished(Cell::Missing(why)),
                }
            }
        }
        progress
            .into_iter()
            .map(|p| match p {
                Progress::Running { mut times, .. } => {
                    Cell::Value(in_unit(median(&mut times), ops, unit))
                }
                Progress::Finished(cell) => cell,
            })
            .collect()
    }
}

/// The median of `times`, which it sorts; the upper one of the middle two for an even
/// count.
///
/// # Panics
///
/// Panics when `times` is empty.
pub(crate) fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// One run of `sample`, with an error or a panic turned into the text a missing cell shows.
fn run_once(sample: &mut Sample<'_>) -> Result<Duration, String> {
    match panic::catch_unwind(AssertUnwindSafe(sample)) {
        Ok(Ok(elapsed)) => Ok(elapsed),
        Ok(Err(error)) => Err(format!("failed: {error}")),
        Err(payload) => Err(format!("panicked: {}", panic_message(&*payload))),
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
        Unit::MiB | Unit::BytesPerTask | Unit::Speedup | Unit::SwitchesPerOp => {
            panic!("{unit} is not a time")
        }
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
    use std::cell::RefCell;

    /// A contender that logs `who` on every run and reports `secs(run)` seconds for its
    /// `run`-th call (counting from 0).
    fn logged<'a>(
        log: &'a RefCell<Vec<usize>>,
        who: usize,
        secs: impl Fn(usize) -> io::Result<u64> + 'a,
    ) -> Contender<'a> {
        let mut calls = 0;
        Contender::runs(move || {
            log.borrow_mut().push(who);
            calls += 1;
            secs(calls - 1).map(Duration::from_secs)
        })
    }

    fn settings(warmups: u32, samples: u32) -> Settings {
        let mut settings = Settings::new(true);
        settings.warmups = warmups;
        settings.samples = samples;
        settings
    }

    #[test]
    fn warmups_come_first_then_each_round_runs_everyone_once_starting_elsewhere() {
        let settings = settings(2, 5);
        let log = RefCell::new(Vec::new());
        let contenders = (0..3).map(|who| logged(&log, who, |_| Ok(1))).collect();
        settings.interleave(Unit::Ms, 1, contenders);
        let log = log.into_inner();
        let rounds: Vec<&[usize]> = log.chunks(3).collect();
        assert_eq!(
            rounds.len(),
            7,
            "2 warm-up rounds and 5 sample rounds: {log:?}"
        );
        for round in &rounds {
            let mut who = round.to_vec();
            who.sort();
            assert_eq!(
                who,
                [0, 1, 2],
                "each round runs every contender once: {log:?}"
            );
        }
        for pair in rounds.windows(2) {
            assert_ne!(
                pair[0][0], pair[1][0],
                "the same contender led twice: {log:?}"
            );
        }
        // Over three rounds each of the three contenders leads once.
        let mut leaders: Vec<usize> = rounds[..3].iter().map(|round| round[0]).collect();
        leaders.sort();
        assert_eq!(leaders, [0, 1, 2]);
    }

    #[test]
    fn warmups_are_left_out_of_the_median() {
        let settings = settings(2, 3);
        let log = RefCell::new(Vec::new());
        // Warm-ups report 100 s, which must not count; the samples report 3, 4 and 5 s
        // for the first contender and 30, 10, 20 s for the second.
        let first = logged(&log, 0, |run| {
            Ok(if run < 2 { 100 } else { run as u64 + 1 })
        });
        let second = logged(&log, 1, |run| Ok([100, 100, 30, 10, 20][run]));
        let (braid, peers) = settings.side_by_side(Unit::Ms, 1, first, vec![second]);
        assert_eq!(braid, Cell::Value(4000.0));
        assert_eq!(peers, [Cell::Value(20_000.0)]);
        assert_eq!(log.into_inner().len(), 10);
    }

    #[test]
    fn the_median_is_in_the_row_unit() {
        let settings = settings(0, 3);
        let log = RefCell::new(Vec::new());
        let braid = logged(&log, 0, |run| Ok([2, 1, 3][run]));
        let (braid, peers) = settings.side_by_side(Unit::KOpsPerSec, 4000, braid, vec![]);
        // 4,000 operations in the median 2 s.
        assert_eq!(braid, Cell::Value(2.0));
        assert!(peers.is_empty());
    }

    #[test]
    fn errors_and_panics_stay_with_their_contender() {
        let settings = settings(1, 3);
        let log = RefCell::new(Vec::new());
        let (braid, peers) = settings.side_by_side(
            Unit::Ms,
            1,
            logged(&log, 0, |_| Ok(1)),
            vec![
                logged(&log, 1, |_| Err(io::Error::other("no sockets"))),
                logged(&log, 2, |_| panic!("boom")),
                logged(&log, 3, |_| Ok(2)),
            ],
        );
        assert_eq!(braid, Cell::Value(1000.0));
        assert_eq!(
            peers,
            [
                Cell::Missing("failed: no sockets".into()),
                Cell::Missing("panicked: boom".into()),
                Cell::Value(2000.0),
            ]
        );
    }

    #[test]
    fn a_contender_that_fails_is_not_run_again() {
        let settings = settings(1, 5);
        let log = RefCell::new(Vec::new());
        // The second contender fails on its third run, a sample.
        let failing = logged(&log, 1, |run| {
            if run == 2 {
                Err(io::Error::other("lost a result"))
            } else {
                Ok(1)
            }
        });
        let panicking = logged(&log, 2, |_| panic!("at once"));
        let cells = settings.interleave(
            Unit::Ms,
            1,
            vec![logged(&log, 0, |_| Ok(1)), failing, panicking],
        );
        assert_eq!(
            cells,
            [
                Cell::Value(1000.0),
                Cell::Missing("failed: lost a result".into()),
                Cell::Missing("panicked: at once".into()),
            ]
        );
        let log = log.into_inner();
        let runs = |who: usize| log.iter().filter(|&&w| w == who).count();
        assert_eq!(
            runs(0),
            6,
            "the healthy contender runs every round: {log:?}"
        );
        assert_eq!(runs(1), 3, "no run after the failure: {log:?}");
        assert_eq!(runs(2), 1, "no run after the panic: {log:?}");
    }

    #[test]
    fn known_cells_pass_through_and_are_never_run() {
        let settings = settings(1, 2);
        let log = RefCell::new(Vec::new());
        let (braid, peers) = settings.side_by_side(
            Unit::Ms,
            1,
            logged(&log, 0, |_| Ok(1)),
            vec![
                Contender::not_applicable(),
                Cell::Missing("no python3".into()).into(),
                Cell::Value(7.5).into(),
            ],
        );
        assert_eq!(braid, Cell::Value(1000.0));
        assert_eq!(
            peers,
            [
                Cell::NotApplicable,
                Cell::Missing("no python3".into()),
                Cell::Value(7.5),
            ]
        );
        assert_eq!(log.into_inner(), [0, 0, 0]);
    }

    #[test]
    fn zero_samples_still_takes_one() {
        let settings = settings(0, 0);
        let log = RefCell::new(Vec::new());
        let cells = settings.interleave(Unit::Ms, 1, vec![logged(&log, 0, |_| Ok(3))]);
        assert_eq!(cells, [Cell::Value(3000.0)]);
        assert_eq!(log.into_inner(), [0]);
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
