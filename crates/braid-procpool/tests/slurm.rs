//! The process pool with its workers placed by Slurm (`Launcher::slurm`), on the one-node
//! cluster `.ci/slurm-one-node.sh` starts: the failure matrix, recycling, each way of
//! shutting down, a parent that dies, where the workers' steps run, and a network that
//! goes away (cut with nftables, as root).
//!
//! Built only with the `slurm-tests` feature (`.ci/run` starts the cluster and runs it);
//! without a working `srun`, `nft` or root every check that needs them fails, none is
//! skipped.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use braid_procpool::{Launcher, ProcessPool, Shutdown, Slurm, TaskError};
use common::matrix::{check_failure, loops_forever, FAILURES};
use common::{
    double, eventually, mark_then_sleep, marker_path, no_children, process_gone, wait_for_marker,
    Checks, StandIns,
};

/// What a re-run of this test binary is asked to be.
const ROLE_ENV: &str = "BRAID_SLURM_TEST_ROLE";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn slurm() -> Slurm {
    Launcher::slurm().listen(loopback())
}

fn slurm_pool(workers: usize) -> ProcessPool {
    ProcessPool::builder()
        .workers(workers)
        .launcher(slurm())
        .build()
        .expect("a pool placed by Slurm starts")
}

/// The Slurm job and step a worker runs in, and its pid.
fn where_am_i(_: ()) -> (String, String, u32) {
    let var = |name| std::env::var(name).unwrap_or_default();
    (
        var("SLURM_JOB_ID"),
        var("SLURM_STEP_ID"),
        std::process::id(),
    )
}

/// Sleeps, then says where it ran: two of these at once run on two workers.
fn slow_where_am_i(millis: u64) -> (String, String, u32) {
    std::thread::sleep(Duration::from_millis(millis));
    where_am_i(())
}

fn exits_with_3(_: u64) -> u64 {
    std::process::exit(3)
}

/// The names of this machine's Slurm jobs that braid started (`squeue`), pending,
/// running or completing.
fn braid_jobs() -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-n", "braid-worker", "-o", "%i %T"])
        .output()
        .expect("squeue runs");
    assert!(out.status.success(), "squeue failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        // A finished job stays listed for a while as COMPLETED, FAILED or CANCELLED.
        .filter(|l| {
            ["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"]
                .iter()
                .any(|s| l.contains(s))
        })
        .collect()
}

fn no_braid_jobs_left() {
    eventually("every braid-worker job to end", || braid_jobs().is_empty());
}

fn the_failure_matrix_holds_under_slurm() {
    for failure in FAILURES {
        check_failure(&|| slurm_pool(2), failure);
        no_braid_jobs_left();
    }
}

fn a_dead_workers_error_names_its_node() {
    let pool = slurm_pool(1);
    let node = std::env::var("SLURMD_NODENAME")
        .ok()
        .unwrap_or_else(hostname);
    let error = pool.submit(exits_with_3, 0).join().unwrap_err();
    match &error {
        TaskError::WorkerDied {
            exit_code: Some(3),
            node: Some(n),
            ..
        } if *n == node => {}
        other => panic!("expected a death on {node} with code 3, got {other:?}"),
    }
    assert!(
        error.to_string().contains(&format!(" on {node} ")),
        "{error}"
    );
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn outside_an_allocation_each_worker_has_a_job_of_its_own() {
    no_braid_jobs_left();
    let pool = slurm_pool(2);
    let both: Vec<_> = (0..2).map(|_| pool.submit(slow_where_am_i, 500)).collect();
    let both: Vec<_> = both.into_iter().map(|h| h.join().unwrap()).collect();
    let (a, b) = (&both[0], &both[1]);
    assert!(
        !a.0.is_empty() && !b.0.is_empty(),
        "not run by Slurm: {both:?}"
    );
    assert_ne!(a.2, b.2, "one worker ran both: {both:?}");
    assert_ne!(
        a.0, b.0,
        "two workers in one job outside an allocation: {both:?}"
    );
    assert_eq!(braid_jobs().len(), 2, "{:?}", braid_jobs());
    drop(pool);
    no_braid_jobs_left();
}

/// Run under `salloc -n 2`: the workers are steps of that allocation.
fn inside_an_allocation_workers_are_its_steps() {
    run_in_allocation(&[], "in-allocation", "steps of the allocation: ok");
}

/// Runs this test binary under `salloc -n 2` (and then `command`, which runs it) as
/// `role`, and checks that it succeeds and says `ok`; then that no job is left.
fn run_in_allocation(command: &[&str], role: &str, ok: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("salloc")
        .args(["-n", "2", "--job-name=braid-alloc-test"])
        .args(command)
        .arg(&exe)
        .env(ROLE_ENV, role)
        .stdin(Stdio::null())
        .output()
        .expect("salloc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(ok),
        "{out:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_braid_jobs_left();
}

/// The role: inside `salloc`, a pool's workers run as steps of this very job.
fn in_allocation() -> i32 {
    let own = std::env::var("SLURM_JOB_ID").expect("salloc sets SLURM_JOB_ID");
    let pool = slurm_pool(2);
    let both: Vec<_> = (0..2).map(|_| pool.submit(slow_where_am_i, 500)).collect();
    let both: Vec<_> = both.into_iter().map(|h| h.join().unwrap()).collect();
    println!("allocation {own}, workers {both:?}");
    let in_it = both.iter().all(|w| w.0 == own);
    let two_steps = both[0].1 != both[1].1 && both[0].2 != both[1].2;
    drop(pool);
    // A third worker has no room in a two-task allocation: its step waits, and the build
    // gives up after the start time-out, naming it.
    let built = ProcessPool::builder()
        .workers(3)
        .launcher(slurm().start_timeout(Duration::from_secs(2)))
        .build();
    let too_many = match built {
        Err(e) => e.to_string().contains("not ready within 2s"),
        Ok(_) => false,
    };
    println!("a third worker times out: {too_many}");
    if in_it && two_steps && too_many {
        println!("steps of the allocation: ok");
        0
    } else {
        1
    }
}

/// Run as a step itself (`srun ./app` inside an allocation): the workers' steps overlap the
/// pool's own, which holds the allocation, instead of waiting for it for good.
fn a_pool_run_as_a_step_gets_its_workers() {
    run_in_allocation(&["srun", "-n", "1"], "in-step", "a pool in a step: ok");
}

/// The role: inside a step of an allocation, a pool's worker starts and serves.
fn in_step() -> i32 {
    assert!(std::env::var_os("SLURM_STEP_ID").is_some(), "run by srun");
    let built = ProcessPool::builder()
        .workers(1)
        .launcher(slurm().start_timeout(Duration::from_secs(20)))
        .build();
    match built.map(|pool| pool.submit(double, 4).join()) {
        Ok(Ok(8)) => {
            println!("a pool in a step: ok");
            0
        }
        other => {
            println!("a pool in a step: {other:?}");
            1
        }
    }
}

fn recycling_starts_new_steps() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(2)
        .launcher(slurm())
        .build()
        .unwrap();
    let ran: Vec<_> = (0..6)
        .map(|_| pool.submit(where_am_i, ()).join().unwrap())
        .collect();
    let mut jobs: Vec<_> = ran.iter().map(|w| w.0.clone()).collect();
    jobs.dedup();
    assert_eq!(jobs.len(), 3, "six tasks, two per worker: {ran:?}");
    assert!(pool.metrics().respawns >= 2);
    drop(pool);
    no_braid_jobs_left();
}

fn shutdown_each_way_leaves_no_step() {
    for how in [Shutdown::Wait, Shutdown::CancelPending, Shutdown::Kill] {
        let pool = slurm_pool(2);
        let markers = [marker_path(), marker_path()];
        let running: Vec<_> = markers
            .iter()
            .map(|m| pool.submit(mark_then_sleep, (m.to_str().unwrap().to_owned(), 300)))
            .collect();
        let queued: Vec<_> = (0..6).map(|i| pool.submit(double, i)).collect();
        // Both are running, not only queued, when the shutdown comes.
        for marker in &markers {
            wait_for_marker(marker);
        }
        pool.shutdown(how);
        let results: Vec<_> = running.into_iter().map(|h| h.join()).collect();
        let queued: Vec<_> = queued.into_iter().map(|h| h.join()).collect();
        match how {
            Shutdown::Wait => {
                assert!(results.iter().all(Result::is_ok), "{results:?}");
                assert_eq!(queued, (0..6).map(|i| Ok(i * 2)).collect::<Vec<_>>());
            }
            Shutdown::CancelPending => {
                assert!(results.iter().all(Result::is_ok), "{results:?}");
                assert!(
                    queued.iter().all(|r| *r == Err(TaskError::Cancelled)),
                    "{queued:?}"
                );
            }
            _ => {
                assert!(
                    results.iter().all(|r| *r == Err(TaskError::ShutDown)),
                    "{how:?}: {results:?}"
                );
            }
        }
        assert!(no_children(), "{how:?}: an srun outlived the pool");
        no_braid_jobs_left();
    }
}

fn a_timeout_ends_the_step() {
    let pool = slurm_pool(1);
    let first = pool.submit(where_am_i, ()).join().unwrap();
    let hung = pool.submit_with_timeout(loops_forever, 0, Duration::from_millis(500));
    assert_eq!(hung.join(), Err(TaskError::TimedOut));
    eventually("the timed-out worker to end", || process_gone(first.2));
    let next = pool.submit(where_am_i, ()).join().unwrap();
    assert_ne!(next.0, first.0, "the replacement is a new job");
    // The killed worker's job ends (it may show as completing for a moment).
    eventually("only the replacement's job to be left", || {
        braid_jobs() == [format!("{} RUNNING", next.0)]
    });
}

/// The parent is killed: its workers end, and Slurm has no step of theirs left.
fn a_parent_that_dies_takes_its_workers() {
    no_braid_jobs_left();
    let exe = std::env::current_exe().unwrap();
    let mut parent = Command::new(&exe)
        .env(ROLE_ENV, "parent")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let mut workers = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        workers.push(line.parse::<u32>().unwrap());
    }
    assert_eq!(workers.len(), 2, "the parent's workers: {workers:?}");
    assert_eq!(braid_jobs().len(), 2, "{:?}", braid_jobs());
    parent.kill().unwrap();
    parent.wait().unwrap();
    for pid in workers {
        eventually("an orphaned worker to end", || process_gone(pid));
    }
    no_braid_jobs_left();
}

/// The role: a parent with two busy workers, waiting to be killed.
fn parent() -> i32 {
    let pool = slurm_pool(2);
    let busy: Vec<_> = (0..2)
        .map(|_| pool.submit(slow_where_am_i, 300))
        .map(|h| h.join().unwrap())
        .collect();
    for worker in &busy {
        println!("{}", worker.2);
    }
    println!("ready");
    let _hung: Vec<_> = (0..2).map(|_| pool.submit(loops_forever, 0)).collect();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn the_default_address_is_on_slurms_network() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(Launcher::slurm())
        .build()
        .unwrap();
    let addr = pool.listen_addr().unwrap();
    assert!(!addr.ip().is_unspecified(), "{addr}");
    // Loopback only where this host has no other address (`hostname -I` lists the
    // others); where it has one, other nodes could reach that one.
    let out = Command::new("hostname").arg("-I").output().unwrap();
    assert!(out.status.success(), "hostname -I: {out:?}");
    let others = !String::from_utf8_lossy(&out.stdout).trim().is_empty();
    assert_eq!(
        addr.ip().is_loopback(),
        !others,
        "{addr}, with other addresses: {others}"
    );
    assert_eq!(pool.submit(double, 21).join(), Ok(42));
}

fn partition_and_time_limit_reach_slurm() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(
            slurm()
                .partition(default_partition())
                .time_limit(Duration::from_secs(600)),
        )
        .build()
        .unwrap();
    let (job, _, _) = pool.submit(where_am_i, ()).join().unwrap();
    let out = Command::new("squeue")
        .args(["-h", "-j", &job, "-o", "%P %l"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown.trim(), format!("{} 10:00", default_partition()));
}

fn default_partition() -> String {
    let out = Command::new("sinfo")
        .args(["-h", "-o", "%P"])
        .output()
        .expect("sinfo runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("a partition")
        .trim_end_matches('*')
        .to_owned()
}

fn a_partition_slurm_refuses_fails_the_build() {
    let built = ProcessPool::builder()
        .workers(1)
        .launcher(slurm().partition("no-such-partition"))
        .build();
    let Err(error) = built else {
        panic!("no worker can start in a partition that is not there");
    };
    let text = error.to_string();
    assert!(
        text.contains("the launcher `srun`") && text.contains("exit code 1"),
        "{text}"
    );
    // Slurm's own words, not only a pointer to them.
    assert!(
        text.contains("srun: error") && text.contains("partition"),
        "{text}"
    );
    no_braid_jobs_left();
}

/// Drops every packet to and from `port` on this machine while it lives (an nftables table
/// of its own): the network between a pool and its workers gone, as when a cable is pulled.
struct Cut {
    table: String,
}

impl Cut {
    fn port(port: u16) -> Cut {
        let table = format!("braid_test_{}", std::process::id());
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} input {{ type filter hook input priority -10; }}\n\
             add rule inet {table} input tcp dport {port} drop\n\
             add rule inet {table} input tcp sport {port} drop\n"
        );
        let mut nft = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft runs (the nftables package; .ci/run installs it)");
        use std::io::Write;
        nft.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(nft.wait().unwrap().success(), "nft refused the rules");
        Cut { table }
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}

/// The network to the workers goes: nothing reaches the pool, not even heartbeats, so it
/// counts them dead after three intervals; the running task fails saying why, and once the
/// network is back new workers take the queued tasks.
fn a_network_that_goes_away_fails_only_the_running_task() {
    let pool = ProcessPool::builder()
        .workers(2)
        .launcher(slurm().heartbeat(Duration::from_millis(200)))
        .build()
        .unwrap();
    let port = pool.listen_addr().unwrap().port();
    let marker = marker_path();
    let cut_off = pool.submit(mark_pid_then_loop, marker.to_str().unwrap().to_owned());
    wait_for_marker(&marker);
    let cut = Cut::port(port);
    let error = cut_off.join().unwrap_err();
    assert!(
        matches!(&error, TaskError::WorkerDied { reason: Some(r), .. } if r.contains("heartbeat")),
        "{error:?}"
    );
    // Queued while no worker can reach the pool; run once the network is back.
    let queued: Vec<_> = (0..4).map(|i| pool.submit(double, i)).collect();
    drop(cut);
    for (i, handle) in queued.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(i as u64 * 2));
    }
    drop(pool);
    no_braid_jobs_left();
}

/// A worker cut off from its pool, whose launcher is not the worker itself (the pool kills
/// the launcher, and the worker is left), notices that its heartbeats go unacknowledged and
/// ends by itself.
fn a_worker_cut_off_from_its_pool_ends() {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(
            Launcher::command("sh", ["-c", "\"$BRAID_PROCPOOL_EXE\"; exit 0"])
                .heartbeat(Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    let port = pool.listen_addr().unwrap().port();
    let marker = marker_path();
    let _cut_off = pool.submit(mark_pid_then_loop, marker.to_str().unwrap().to_owned());
    let worker = read_pid(&marker);
    let cut = Cut::port(port);
    eventually("the cut-off worker to end", || process_gone(worker));
    drop(cut);
    assert_eq!(pool.submit(double, 5).join(), Ok(10));
}

/// A worker's step cancelled with `scancel` (as an administrator, or a time limit, ends
/// it): its task fails with the signal Slurm sent and Slurm's own words, and a new worker
/// takes the next task.
fn a_step_slurm_cancels_fails_with_slurms_words() {
    let pool = slurm_pool(1);
    let (job, _, _) = pool.submit(where_am_i, ()).join().unwrap();
    let hung = pool.submit(loops_forever, 0);
    let cancelled = Command::new("scancel").arg(&job).status().unwrap();
    assert!(cancelled.success());
    let error = hung.join().unwrap_err();
    match &error {
        TaskError::WorkerDied {
            signal: Some(libc::SIGTERM),
            reason: Some(reason),
            ..
        } if reason.contains("CANCELLED") => {}
        other => panic!("expected a cancelled step, got {other:?}"),
    }
    assert!(error.to_string().contains("Slurm said"), "{error}");
    assert_eq!(pool.submit(double, 6).join(), Ok(12));
}

/// A stand-in for `srun` that runs the first `normal` workers as asked and every later one
/// with `later` (a bash snippet that ends in running srun; `"$@"` are srun's arguments,
/// the worker's executable last). The script is `srun` in the returned directory.
fn srun_that_changes_after(normal: u32, later: &str) -> StandIns {
    let stand_ins = StandIns::new();
    let count = stand_ins.dir().join("count");
    stand_ins.script(
        "srun",
        &format!(
            "#!/bin/bash\n\
             n=$(cat '{count}' 2>/dev/null || echo 0)\n\
             echo $((n + 1)) > '{count}'\n\
             if [ \"$n\" -ge {normal} ]; then {later}; fi\n\
             exec srun \"$@\"\n",
            count = count.display()
        ),
    );
    stand_ins
}

/// Held in Slurm's queue for an hour (`--begin`), as a busy cluster would hold it.
const QUEUED: &str = "exec srun --begin=now+3600 \"$@\"";

/// Run by Slurm at once, but never a worker: the step sleeps.
const NEVER_CONNECTS: &str = "exec srun \"${@:1:$#-1}\" sleep 600";

/// A one-worker pool placed through the stand-in `srun` of `stand_ins`, whose first
/// worker has died, so that the next task waits for a replacement.
fn pool_after_its_first_worker_died(stand_ins: &StandIns, start_timeout: Duration) -> ProcessPool {
    let pool = ProcessPool::builder()
        .workers(1)
        .launcher(
            slurm()
                .srun_program(stand_ins.dir().join("srun"))
                .start_timeout(start_timeout),
        )
        .build()
        .unwrap();
    assert!(pool
        .submit(exits_with_3, 0)
        .join()
        .unwrap_err()
        .is_worker_died());
    pool
}

/// A one-worker pool whose worker has died and whose replacement waits in Slurm's queue
/// (the stand-in `srun` of `srun_that_changes_after(1, QUEUED)`).
fn pool_with_a_queued_replacement(stand_ins: &StandIns, start_timeout: Duration) -> ProcessPool {
    let pool = pool_after_its_first_worker_died(stand_ins, start_timeout);
    eventually("the replacement to wait in the queue", || {
        braid_jobs().iter().any(|job| job.ends_with("PENDING"))
    });
    pool
}

/// A replacement waiting in Slurm's queue is not a failed start: however long it waits
/// past the start time-out, tasks wait for it rather than fail; and the pool, dropped,
/// withdraws the queued job instead of leaving it behind.
fn a_queued_replacement_is_waited_for_and_withdrawn() {
    no_braid_jobs_left();
    let srun = srun_that_changes_after(1, QUEUED);
    let pool = pool_with_a_queued_replacement(&srun, Duration::from_secs(1));
    let mut waiting = pool.submit(double, 2);
    // Four start time-outs: had the queue wait counted, the task would have failed.
    assert_eq!(waiting.join_timeout(Duration::from_secs(4)), None);
    assert_eq!(pool.metrics().start_failures, 0);
    drop(waiting);
    pool.shutdown(Shutdown::CancelPending);
    drop(pool);
    no_braid_jobs_left();
}

/// `Shutdown::Kill` of a pool whose replacement is queued returns without waiting for it
/// and leaves no job in Slurm's queue.
fn killing_a_pool_withdraws_its_queued_replacement() {
    no_braid_jobs_left();
    let srun = srun_that_changes_after(1, QUEUED);
    let pool = pool_with_a_queued_replacement(&srun, Duration::from_secs(600));
    let started = std::time::Instant::now();
    pool.shutdown(Shutdown::Kill);
    drop(pool);
    // Not the ten minutes of its start time-out.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    no_braid_jobs_left();
}

/// A replacement that Slurm runs but that never connects is not waited for without end:
/// its start time-out counts from when Slurm ran it, and then queued tasks fail saying why.
fn a_replacement_that_never_connects_fails_in_time() {
    no_braid_jobs_left();
    let srun = srun_that_changes_after(1, NEVER_CONNECTS);
    let pool = pool_after_its_first_worker_died(&srun, Duration::from_secs(2));
    let mut waiting = pool.submit(double, 2);
    // A hang guard, not a measure: the failure comes in about two seconds.
    match waiting.join_timeout(Duration::from_secs(60)) {
        Some(Err(TaskError::WorkerStart(why))) => {
            assert!(why.contains("not ready within 2s"), "{why}")
        }
        None => panic!("the task waited for good for a worker that never connects"),
        other => panic!("expected a failed start, got {other:?}"),
    }
    pool.shutdown(Shutdown::Kill);
    drop(pool);
    no_braid_jobs_left();
}

/// A build that fails while its workers wait in Slurm's queue leaves none of their jobs
/// there.
fn a_failed_build_leaves_no_queued_job() {
    no_braid_jobs_left();
    let srun = srun_that_changes_after(0, QUEUED);
    let built = ProcessPool::builder()
        .workers(2)
        .launcher(
            slurm()
                .srun_program(srun.dir().join("srun"))
                .start_timeout(Duration::from_secs(2)),
        )
        .build();
    assert!(built.is_err(), "no worker could start");
    no_braid_jobs_left();
}

/// A pool whose own standard error nobody reads keeps working: what its workers write
/// there is passed on by a thread of its own, and dropped when it cannot keep up, never
/// stalling the pool (a task's time-out still fires).
fn an_unread_standard_error_does_not_stall_the_pool() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(&exe)
        .env(ROLE_ENV, "chatty")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // A pipe that is never read: it fills, and every write to it then waits.
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            no_braid_jobs_left();
            panic!("the pool stalled on its standard error");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status:?}: {out}");
    assert!(out.contains("timed out as asked"), "{out}");
    no_braid_jobs_left();
}

fn shouts(lines: u64) -> u64 {
    let line = "x".repeat(3000);
    for _ in 0..lines {
        eprintln!("{line}");
    }
    lines
}

/// The role: a Slurm pool whose worker writes much to standard error, then a task that
/// must time out.
fn chatty() -> i32 {
    let pool = slurm_pool(1);
    assert_eq!(pool.submit(shouts, 200).join(), Ok(200));
    let hung = pool.submit_with_timeout(loops_forever, 0, Duration::from_secs(1));
    let timed_out = hung.join() == Err(TaskError::TimedOut);
    pool.shutdown(Shutdown::Kill);
    drop(pool);
    if timed_out {
        println!("timed out as asked");
        0
    } else {
        1
    }
}

fn mark_pid_then_loop(path: String) -> u64 {
    std::fs::write(&path, std::process::id().to_string()).unwrap();
    loops_forever(0)
}

fn read_pid(path: &std::path::Path) -> u32 {
    eventually("the task to start", || {
        std::fs::read_to_string(path).is_ok_and(|s| !s.is_empty())
    });
    let pid = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let _ = std::fs::remove_file(path);
    pid
}

fn main() {
    braid_procpool::init();
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("in-allocation") => std::process::exit(in_allocation()),
        Ok("parent") => std::process::exit(parent()),
        Ok("in-step") => std::process::exit(in_step()),
        Ok("chatty") => std::process::exit(chatty()),
        _ => {}
    }
    let mut checks = Checks::new();
    checks.run("slurm: srun and squeue answer", || {
        let out = Command::new("srun").args(["-n", "1", "true"]).output();
        assert!(
            out.as_ref().is_ok_and(|o| o.status.success()),
            "no working Slurm cluster here ({out:?}); start one with .ci/slurm-one-node.sh"
        );
        assert!(
            braid_jobs().is_empty(),
            "braid-worker jobs from before: {:?}",
            braid_jobs()
        );
    });
    checks.run(
        "slurm: the failure matrix",
        the_failure_matrix_holds_under_slurm,
    );
    checks.run(
        "slurm: a dead worker's error names its node",
        a_dead_workers_error_names_its_node,
    );
    checks.run(
        "slurm: outside an allocation each worker has a job of its own",
        outside_an_allocation_each_worker_has_a_job_of_its_own,
    );
    checks.run(
        "slurm: inside an allocation the workers are its steps",
        inside_an_allocation_workers_are_its_steps,
    );
    checks.run(
        "slurm: a pool run as a step gets its workers",
        a_pool_run_as_a_step_gets_its_workers,
    );
    checks.run(
        "slurm: recycling starts new steps",
        recycling_starts_new_steps,
    );
    checks.run("slurm: a timeout ends the step", a_timeout_ends_the_step);
    checks.run(
        "slurm: shutdown each way leaves no step",
        shutdown_each_way_leaves_no_step,
    );
    checks.run(
        "slurm: a parent that dies takes its workers",
        a_parent_that_dies_takes_its_workers,
    );
    checks.run(
        "slurm: the default address is on Slurm's network",
        the_default_address_is_on_slurms_network,
    );
    checks.run(
        "slurm: partition and time limit reach Slurm",
        partition_and_time_limit_reach_slurm,
    );
    checks.run(
        "slurm: a partition Slurm refuses fails the build",
        a_partition_slurm_refuses_fails_the_build,
    );
    checks.run(
        "slurm: a queued replacement is waited for and withdrawn",
        a_queued_replacement_is_waited_for_and_withdrawn,
    );
    checks.run(
        "slurm: killing a pool withdraws its queued replacement",
        killing_a_pool_withdraws_its_queued_replacement,
    );
    checks.run(
        "slurm: a replacement that never connects fails in time",
        a_replacement_that_never_connects_fails_in_time,
    );
    checks.run(
        "slurm: a failed build leaves no queued job",
        a_failed_build_leaves_no_queued_job,
    );
    checks.run(
        "slurm: an unread standard error does not stall the pool",
        an_unread_standard_error_does_not_stall_the_pool,
    );
    checks.run(
        "slurm: a step Slurm cancels fails with Slurm's words",
        a_step_slurm_cancels_fails_with_slurms_words,
    );
    checks.run(
        "slurm: a network that goes away fails only the running task",
        a_network_that_goes_away_fails_only_the_running_task,
    );
    checks.run(
        "network: a worker cut off from its pool ends",
        a_worker_cut_off_from_its_pool_ends,
    );
    checks.finish();
}
