//! braid-procpool against Python's `ProcessPoolExecutor` and `multiprocessing.Pool`, every
//! pool with [`WORKERS`] workers, and the floor under them all: one
//! round trip through a pair of pipes between two processes.
//!
//! - submit many trivial tasks one by one, then collect every result;
//! - one task at a time: submit, wait for the result, repeat (the row with the floor);
//! - `map` of 100,000 items in chunks of 1,000;
//! - pool start: make a pool, get a result from each worker, shut it down, with workers
//!   started by spawning (a fresh run of the program) and by forking;
//! - a CPU-bound `map`: counting primes by trial division in ranges of 20,000 numbers, timed
//!   per range (braid counts [`CPU_RANGES`] ranges, over a second in one process; Python's
//!   workers, counting in Python, fewer), and each pool's speedup over the same ranges
//!   counted in one process with no pool;
//! - voluntary context switches per task, parent and workers together, for submit-each and
//!   one task at a time (the raw pipe's is the floor for the latter).
//!
//! Every braid workload is a public function that times a number of iterations, so the
//! criterion benches run exactly what `compare` runs. A program that calls them must call
//! [`braid_procpool::init`] first thing in `main`, since the workers run it again.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use braid_procpool::{Builder, Launcher, ProcessPool, StartMethod};
use serde_json::Value;

use crate::measurement::{speedup, Cell, LayerReport, Peer, Unit};
use crate::probe;
use crate::report::{format_value, thousands};
use crate::settings::{check, check_sum, Contender, Settings};
use crate::WORKERS;

/// The layer's name.
pub const LAYER: &str = "process pool";

/// Items in the `map` workload.
pub const MAP_ITEMS: u64 = 100_000;
/// Items per chunk in the `map` workload.
pub const CHUNKSIZE: u64 = 1_000;
/// The CPU-bound ranges start here, so trial division has real work to do.
const PRIMES_FROM: u64 = 1_000_000;
const PRIME_SPAN: u64 = 20_000;
/// Ranges in braid's CPU-bound map: enough that counting them in one process takes over a
/// second, so that the pool's start-up and hand-offs are small beside the work and the
/// speedup shows what two cores give. Python, counting in Python, gets `Sizes::cpu_items`
/// ranges; the time row is per range so that the two compare.
pub const CPU_RANGES: u64 = 512;

/// The sizes of one run, shared with `python/procpool_bench.py`.
struct Sizes {
    tasks: u64,
    sequential: u64,
    cpu_items: u64,
}

/// Measures every process-pool workload for braid, the Python pools and the pipe floor.
pub fn measure(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(
        LAYER,
        vec![
            Peer::rival("py ProcessPool"),
            Peer::rival("py mp.Pool"),
            Peer::floor("raw pipe"),
        ],
    );
    let sizes = Sizes {
        tasks: settings.pick(10_000, 2_000),
        sequential: settings.pick(2_000, 500),
        cpu_items: settings.pick(16, 8),
    };
    let python = python_pools(settings, &sizes, &mut layer);
    let py = |pool: &str, workload: &str, unit: Unit, ops: u64| -> Cell {
        match &python {
            Ok(reply) => match reply[pool][workload].as_f64() {
                Some(secs) => Cell::Value(crate::settings::in_unit(
                    Duration::from_secs_f64(secs),
                    ops,
                    unit,
                )),
                None => Cell::Missing(format!("procpool_bench.py gave no {pool} {workload}")),
            },
            Err(why) => Cell::Missing(why.clone()),
        }
    };
    const PPE: &str = "ProcessPoolExecutor";
    const MP: &str = "multiprocessing.Pool";
    const ONE_PROCESS: &str = "one process";

    // procpool_bench.py, run above, keeps its pools alive across its workloads and takes its
    // own warm-ups and medians, so it cannot be cut into rounds: its cells are known before
    // braid runs. braid is interleaved with what runs here: the raw pipe, its one-process
    // baseline, and its two start methods.

    // Pools are started before the long-lived pool below exists, so the forking start
    // copies a process with as few threads as the run allows, and after the heap that
    // earlier layers freed is given back: forking copies page tables for every resident
    // page, so otherwise the row would time whatever garbage the layers before it left
    // (the executor layer's can leave 20 MiB or more, which makes a fork start 2-3x
    // slower, depending on where the allocator's last live block happens to lie).
    give_back_freed_heap();
    let [start_spawn, start_fork]: [Cell; 2] = settings
        .interleave(
            Unit::Ms,
            1,
            vec![
                Contender::runs(|| pool_start(StartMethod::Spawn, 1)),
                Contender::runs(|| pool_start(StartMethod::Fork, 1)),
            ],
        )
        .try_into()
        .expect("one cell per contender");

    let pool = ProcessPool::new(WORKERS)
        .inspect_err(|e| layer.note(format!("braid: the pool could not start: {e}")));

    let n = sizes.tasks;
    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        n,
        on_pool(&pool, |pool| submit_all(pool, n)),
        vec![
            py(PPE, "submit_each", Unit::UsPerOp, n).into(),
            py(MP, "submit_each", Unit::UsPerOp, n).into(),
            Contender::not_applicable(),
        ],
    );
    layer.push(
        format!("submit {} trivial tasks, then join each", thousands(n)),
        Unit::UsPerOp,
        braid,
        peers,
    );

    let n = sizes.sequential;
    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        n,
        on_pool(&pool, |pool| one_at_a_time(pool, n)),
        vec![
            py(PPE, "one_at_a_time", Unit::UsPerOp, n).into(),
            py(MP, "one_at_a_time", Unit::UsPerOp, n).into(),
            Contender::runs(|| pipe_round_trips(n)),
        ],
    );
    layer.push(
        format!("one task at a time, {} round trips", thousands(n)),
        Unit::UsPerOp,
        braid,
        peers,
    );

    // Wakes, not times: voluntary context switches of the parent and every worker together.
    let py_switches = |pool: &str, workload: &str| -> Cell {
        match &python {
            Ok(reply) => match reply[pool][workload].as_f64() {
                Some(per_op) => Cell::Value(per_op),
                None => Cell::Missing(format!("procpool_bench.py gave no {pool} {workload}")),
            },
            Err(why) => Cell::Missing(why.clone()),
        }
    };
    let measured = |switches: io::Result<f64>| match switches {
        Ok(per_op) => Cell::Value(per_op),
        Err(e) => Cell::Missing(e.to_string()),
    };
    let n = sizes.tasks;
    layer.push(
        format!(
            "voluntary switches per task, submit {} then join each",
            thousands(n)
        ),
        Unit::SwitchesPerOp,
        measured(switches_per_op(n, |pool| submit_all(pool, n).map(drop))),
        vec![
            py_switches(PPE, "submit_each_switches"),
            py_switches(MP, "submit_each_switches"),
            Cell::NotApplicable,
        ],
    );
    let n = sizes.sequential;
    layer.push(
        format!(
            "voluntary switches per round trip, one at a time, {}",
            thousands(n)
        ),
        Unit::SwitchesPerOp,
        measured(switches_per_op(n, |pool| one_at_a_time(pool, n).map(drop))),
        vec![
            py_switches(PPE, "one_at_a_time_switches"),
            py_switches(MP, "one_at_a_time_switches"),
            measured(pipe_switches_per_trip(n)),
        ],
    );

    let (braid, peers) = settings.side_by_side(
        Unit::Ms,
        1,
        on_pool(&pool, |pool| map_chunked(pool, 1)),
        vec![
            py(PPE, "map", Unit::Ms, 1).into(),
            py(MP, "map", Unit::Ms, 1).into(),
            Contender::not_applicable(),
        ],
    );
    layer.push("map 100,000 items, chunks of 1,000", Unit::Ms, braid, peers);

    layer.push(
        "pool start, spawn: 2 workers, 2 results, shut down",
        Unit::Ms,
        start_spawn,
        vec![
            py(PPE, "start_spawn", Unit::Ms, 1),
            py(MP, "start_spawn", Unit::Ms, 1),
            Cell::NotApplicable,
        ],
    );

    layer.push(
        "pool start, fork: 2 workers, 2 results, shut down",
        Unit::Ms,
        start_fork,
        vec![
            py(PPE, "start_fork", Unit::Ms, 1),
            py(MP, "start_fork", Unit::Ms, 1),
            Cell::NotApplicable,
        ],
    );

    let items = sizes.cpu_items;
    // The one-process run shares the pool's rounds, so the speedup divides times taken
    // under the same load.
    let [braid_map, braid_one]: [Cell; 2] = settings
        .interleave(
            Unit::UsPerOp,
            CPU_RANGES,
            vec![
                on_pool(&pool, |pool| cpu_map(pool, CPU_RANGES, 1)),
                Contender::runs(|| cpu_map_one_process(CPU_RANGES, 1)),
            ],
        )
        .try_into()
        .expect("one cell per contender");
    let ppe_map = py(PPE, "cpu_map", Unit::UsPerOp, items);
    let mp_map = py(MP, "cpu_map", Unit::UsPerOp, items);
    let py_one = py(ONE_PROCESS, "cpu_map", Unit::UsPerOp, items);
    layer.push(
        "CPU-bound map: primes by trial division, per range of 20,000",
        Unit::UsPerOp,
        braid_map.clone(),
        vec![ppe_map.clone(), mp_map.clone(), Cell::NotApplicable],
    );
    layer.push(
        "CPU-bound map: speedup over one process",
        Unit::Speedup,
        speedup(&braid_one, &braid_map),
        vec![
            speedup(&py_one, &ppe_map),
            speedup(&py_one, &mp_map),
            Cell::NotApplicable,
        ],
    );
    let one_process = |cell: &Cell| match cell {
        Cell::Value(us) => format!("{} µs", format_value(*us)),
        Cell::Missing(why) => format!("n/a ({why})"),
        Cell::NotApplicable => "-".into(),
    };
    layer.note(format!(
        "CPU-bound map: braid counts {CPU_RANGES} ranges, so that one process takes over a second; Python, counting in Python, {items}; times are per range. Speedup = the same ranges counted in one process, no pool (braid: {} per range, Python: {} per range), ÷ the pool's time; the ideal is {WORKERS}×",
        one_process(&braid_one),
        one_process(&py_one),
    ));
    layer.note("pool start: timed after the heap freed by earlier layers is returned to the system (glibc's malloc_trim), so that a forking start copies only what the program holds");
    layer.note("pool start, fork: braid with StartMethod::Fork, Python with the \"fork\" context; spawn: StartMethod::Spawn and the \"spawn\" context");
    layer.note("the CPU-bound map compares the whole job: Python's workers count primes in Python, braid's in Rust");
    layer.note("raw pipe is the floor for one task at a time: 8 bytes to another process and back through two pipes");
    layer
}

/// The layer of workers on the network: the same pool with workers that connect back over
/// TCP, started by a command or placed by Slurm.
pub const REMOTE_LAYER: &str = "process pool past one machine";

/// Workers started by `sh`, which `exec`s into the worker: TCP over loopback in place of
/// pipes, and nothing else changed.
pub fn tcp_launcher() -> Launcher {
    Launcher::command("sh", ["-c", "exec \"$BRAID_PROCPOOL_EXE\""])
}

/// Workers placed by Slurm on this machine's cluster, listening on loopback.
pub fn slurm_launcher() -> Launcher {
    Launcher::slurm()
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .into()
}

/// Whether `srun` runs here, or why not.
fn slurm_here() -> Result<(), String> {
    match std::process::Command::new("srun")
        .args(["-n", "1", "true"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "no Slurm cluster here (srun: {}); .ci/slurm-one-node.sh starts one",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "no Slurm here (srun: {e}); .ci/slurm-one-node.sh starts one"
        )),
    }
}

/// Times `runs` pool starts through `launcher`, as [`pool_start`] does for a start method.
///
/// # Errors
///
/// A pool that cannot start, or a task that failed.
pub fn pool_start_with(launcher: &Launcher, runs: u64) -> io::Result<Duration> {
    time_pool_starts(runs, || {
        ProcessPool::builder()
            .workers(WORKERS)
            .launcher(launcher.clone())
    })
}

/// The same pool's workloads with workers on connections (braid's column) against local
/// `Spawn` workers on pipes: what TCP costs per task, and what Slurm's placement costs
/// for a CPU-bound map on this one node.
pub fn measure_remote(settings: &Settings) -> LayerReport {
    let mut layer = LayerReport::new(REMOTE_LAYER, vec![Peer::rival("braid, local pipes")]);
    let build = |launcher: Option<Launcher>| {
        let builder = ProcessPool::builder()
            .workers(WORKERS)
            .start_method(StartMethod::Spawn);
        match launcher {
            Some(launcher) => builder.launcher(launcher),
            None => builder,
        }
        .build()
    };
    let pipes = build(None);
    let tcp = build(Some(tcp_launcher()));
    let slurm = slurm_here().map_err(|why| {
        layer.note(format!("Slurm rows: {why}"));
        why
    });
    let slurm_pool = match &slurm {
        Ok(()) => {
            build(Some(slurm_launcher())).map_err(|e| format!("the pool could not start: {e}"))
        }
        Err(why) => Err(why.clone()),
    };
    let tcp = tcp.map_err(|e| format!("the pool could not start: {e}"));
    let pipes = pipes.map_err(|e| format!("the pool could not start: {e}"));
    let per_task: [(u64, Workload, &str); 2] = [
        (
            settings.pick(2_000, 500),
            one_at_a_time,
            "one task at a time, {} round trips",
        ),
        (
            settings.pick(10_000, 2_000),
            submit_all,
            "submit {} trivial tasks, then join each",
        ),
    ];
    for (n, run, workload) in per_task {
        let (braid, peers) = settings.side_by_side(
            Unit::UsPerOp,
            n,
            with(&tcp, run, n),
            vec![with(&pipes, run, n)],
        );
        let workload = workload.replace("{}", &thousands(n));
        layer.push(format!("TCP: {workload}"), Unit::UsPerOp, braid, peers);
    }

    let (braid, peers) = settings.side_by_side(
        Unit::UsPerOp,
        CPU_RANGES,
        with(
            &slurm_pool,
            |pool, ranges| cpu_map(pool, ranges, 1),
            CPU_RANGES,
        ),
        vec![with(
            &pipes,
            |pool, ranges| cpu_map(pool, ranges, 1),
            CPU_RANGES,
        )],
    );
    layer.push(
        "Slurm, one node: CPU-bound map, per range of 20,000",
        Unit::UsPerOp,
        braid,
        peers,
    );
    drop(slurm_pool);

    let slurm_start = match &slurm {
        Ok(()) => {
            let launcher = slurm_launcher();
            Contender::runs(move || pool_start_with(&launcher, 1))
        }
        Err(why) => Cell::Missing(why.clone()).into(),
    };
    let (braid, peers) = settings.side_by_side(
        Unit::Ms,
        1,
        slurm_start,
        vec![Contender::runs(|| pool_start(StartMethod::Spawn, 1))],
    );
    layer.push(
        "Slurm, one node: pool start, 2 workers, 2 results, shut down",
        Unit::Ms,
        braid,
        peers,
    );
    layer.note("braid's column: workers that connect back over TCP (loopback); TCP rows start them with `sh -c 'exec $BRAID_PROCPOOL_EXE'`, Slurm rows with `srun` on a one-node cluster. The peer is the same pool with local Spawn workers on pipes, so the ratio is the price of the network path");
    layer
}

/// A workload that times `n` of something on a pool.
type Workload = fn(&ProcessPool, u64) -> io::Result<Duration>;

/// `run(pool, n)` on `pool` as a contender, or why there is none.
fn with(pool: &Result<ProcessPool, String>, run: Workload, n: u64) -> Contender<'_> {
    match pool {
        Ok(pool) => Contender::runs(move || run(pool, n)),
        Err(why) => Cell::Missing(why.clone()).into(),
    }
}

/// braid's contender: `run` on `pool`, or why there is none.
fn on_pool<'a>(
    pool: &'a Result<ProcessPool, braid_procpool::BuildError>,
    run: impl Fn(&ProcessPool) -> io::Result<Duration> + 'a,
) -> Contender<'a> {
    match pool {
        Ok(pool) => Contender::runs(move || run(pool)),
        Err(e) => Cell::Missing(format!("the pool could not start: {e}")).into(),
    }
}

fn identity(x: u64) -> u64 {
    x
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

/// Counts primes in range `index` of the CPU-bound map, the same way the Python workers do.
fn primes_in_range(index: u64) -> u64 {
    let start = PRIMES_FROM + index * PRIME_SPAN;
    (start..start + PRIME_SPAN).filter(|&n| is_prime(n)).count() as u64
}

fn task_error(e: braid_procpool::TaskError) -> io::Error {
    io::Error::other(e)
}

/// Times submitting `n` trivial tasks to `pool` one by one, then joining each handle in
/// order.
///
/// # Errors
///
/// A task that failed, or results that do not add up.
pub fn submit_all(pool: &ProcessPool, n: u64) -> io::Result<Duration> {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| pool.submit(identity, i)).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.join().map_err(task_error)?;
    }
    let elapsed = start.elapsed();
    check_sum(sum, n)?;
    Ok(elapsed)
}

/// Times `n` round trips of one task at a time: submit, wait for the result, repeat.
///
/// # Errors
///
/// A task that failed, or a result that came back wrong.
pub fn one_at_a_time(pool: &ProcessPool, n: u64) -> io::Result<Duration> {
    let start = Instant::now();
    for i in 0..n {
        let back = pool.submit(identity, i).join().map_err(task_error)?;
        check(back == i, "a result came back wrong")?;
    }
    Ok(start.elapsed())
}

/// Times `runs` maps of [`MAP_ITEMS`] trivial items in chunks of [`CHUNKSIZE`], every
/// result collected.
///
/// # Errors
///
/// A chunk that failed, or results that do not add up.
pub fn map_chunked(pool: &ProcessPool, runs: u64) -> io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        let mut sum = 0;
        for result in pool.map(identity, 0..MAP_ITEMS, CHUNKSIZE as usize) {
            sum += result.map_err(task_error)?;
        }
        check_sum(sum, MAP_ITEMS)?;
    }
    Ok(start.elapsed())
}

/// Times `runs` pool starts with `method`: build a pool of [`WORKERS`] workers, get a
/// result from each, shut it down.
///
/// # Errors
///
/// A pool that cannot start, or a task that failed.
pub fn pool_start(method: StartMethod, runs: u64) -> io::Result<Duration> {
    time_pool_starts(runs, || {
        ProcessPool::builder().workers(WORKERS).start_method(method)
    })
}

/// Returns the heap this process freed but the allocator kept to the operating system.
fn give_back_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Times `runs` pool starts: build a pool from `builder`, get a result from each of its
/// [`WORKERS`] workers, shut it down.
fn time_pool_starts(runs: u64, builder: impl Fn() -> Builder) -> io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        let pool = builder().build()?;
        let handles: Vec<_> = (0..WORKERS as u64)
            .map(|i| pool.submit(identity, i))
            .collect();
        for handle in handles {
            handle.join().map_err(task_error)?;
        }
        drop(pool);
    }
    Ok(start.elapsed())
}

/// Times `runs` CPU-bound maps on `pool`: primes counted by trial division in `ranges`
/// ranges of 20,000 numbers above a million, one range per task.
///
/// # Errors
///
/// A task that failed, or a count that came out wrong.
pub fn cpu_map(pool: &ProcessPool, ranges: u64, runs: u64) -> io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        let mut total = 0;
        for result in pool.map(primes_in_range, 0..ranges, 1) {
            total += result.map_err(task_error)?;
        }
        check(ranges == 0 || total > 0, "no primes were found")?;
    }
    Ok(start.elapsed())
}

/// [`cpu_map`] in this process with no pool: the ranges one after another, the baseline for
/// the speedup.
///
/// # Errors
///
/// A count that came out wrong.
pub fn cpu_map_one_process(ranges: u64, runs: u64) -> io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        let total: u64 = (0..ranges).map(|i| primes_in_range(black_box(i))).sum();
        check(ranges == 0 || total > 0, "no primes were found")?;
    }
    Ok(start.elapsed())
}

/// Voluntary context switches per operation of `work` (`n` operations) on a fresh pool of
/// [`WORKERS`] workers, the parent's threads and the workers' whole lives together, less
/// those of a pool that runs nothing; the median of three tries.
///
/// # Errors
///
/// A pool that cannot start, a failed workload, or `getrusage` failing.
pub fn switches_per_op(n: u64, work: impl Fn(&ProcessPool) -> io::Result<()>) -> io::Result<f64> {
    let life = |run: bool| -> io::Result<u64> {
        let before = probe::voluntary_switches()?;
        let pool = ProcessPool::new(WORKERS)?;
        if run {
            work(&pool)?;
        }
        // Dropping the pool reaps every worker, so their switches are counted.
        drop(pool);
        Ok(probe::voluntary_switches()?.saturating_sub(before))
    };
    let mut tries = Vec::with_capacity(3);
    for _ in 0..3 {
        let idle = life(false)?;
        let busy = life(true)?;
        tries.push(busy.saturating_sub(idle) as f64 / n.max(1) as f64);
    }
    tries.sort_by(f64::total_cmp);
    Ok(tries[1])
}

/// [`switches_per_op`] for the floor: `n` round trips through a pair of pipes to a child
/// process, less a run of none.
fn pipe_switches_per_trip(n: u64) -> io::Result<f64> {
    let life = |trips: u64| -> io::Result<u64> {
        let before = probe::voluntary_switches()?;
        pipe_round_trips(trips)?;
        Ok(probe::voluntary_switches()?.saturating_sub(before))
    };
    let mut tries = Vec::with_capacity(3);
    for _ in 0..3 {
        let idle = life(0)?;
        let busy = life(n)?;
        tries.push(busy.saturating_sub(idle) as f64 / n.max(1) as f64);
    }
    tries.sort_by(f64::total_cmp);
    Ok(tries[1])
}

/// `n` round trips of 8 bytes to a child process (this program as the pipe-echo probe)
/// and back.
fn pipe_round_trips(n: u64) -> io::Result<Duration> {
    let mut child = probe::command(probe::PIPE_ECHO, &[])?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_child = child.stdin.take().expect("stdin is piped");
    let mut from_child = child.stdout.take().expect("stdout is piped");
    let mut run = || -> io::Result<Duration> {
        let mut reply = [0u8; 8];
        let start = Instant::now();
        for i in 0..n {
            to_child.write_all(&i.to_le_bytes())?;
            from_child.read_exact(&mut reply)?;
            check(
                u64::from_le_bytes(reply) == i,
                "the pipe echoed something else",
            )?;
        }
        Ok(start.elapsed())
    };
    let outcome = run();
    drop(to_child);
    let status = child.wait()?;
    let elapsed = outcome?;
    check(status.success(), "the pipe-echo process failed")?;
    Ok(elapsed)
}

/// The child side of the pipe floor: echoes 8-byte messages from stdin to stdout until
/// stdin closes.
///
/// # Errors
///
/// Any I/O error other than the end of stdin.
pub fn pipe_echo_probe() -> io::Result<()> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let (mut input, mut output) = (stdin.lock(), stdout.lock());
    let mut message = [0u8; 8];
    loop {
        match input.read_exact(&mut message) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        output.write_all(&message)?;
        output.flush()?;
    }
}

fn python_pools(
    settings: &Settings,
    sizes: &Sizes,
    layer: &mut LayerReport,
) -> Result<Value, String> {
    let python = settings.python.as_ref().map_err(|why| {
        layer.note(format!("Python pools: {why}"));
        why.clone()
    })?;
    let args: Vec<String> = [
        ("--workers", WORKERS as u64),
        ("--tasks", sizes.tasks),
        ("--sequential", sizes.sequential),
        ("--map-items", MAP_ITEMS),
        ("--chunksize", CHUNKSIZE),
        ("--cpu-items", sizes.cpu_items),
        ("--primes-from", PRIMES_FROM),
        ("--prime-span", PRIME_SPAN),
        ("--warmups", u64::from(settings.warmups)),
        ("--samples", u64::from(settings.samples)),
    ]
    .iter()
    .flat_map(|(flag, value)| [flag.to_string(), value.to_string()])
    .collect();
    python
        .run_json("procpool_bench.py", &args, Duration::from_secs(300))
        .inspect_err(|why| layer.note(format!("Python pools: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_division_finds_primes() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        // 1,000,003 is the first prime above a million.
        assert!(is_prime(1_000_003));
        assert!(!is_prime(1_000_001));
    }
}
