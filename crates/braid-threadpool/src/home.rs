//! Where an idle worker sleeps: on a CPU of its own (Linux).
//!
//! A worker that runs out of work sleeps until someone wakes it, and the kernel picks the CPU it
//! wakes on. Often it picks the waker's own CPU, or another that is already busy with a worker,
//! and the woken worker waits there, a whole time slice or until the load balancer moves it:
//! milliseconds, while another core idles. On the 2-core virtual machine braid's benchmarks run
//! on this was the common case, not the exception. A `join` called on an idle pool needs two
//! workers woken one after the other, so its second half often started several milliseconds
//! late there (`sleep/README.md` has the measurements).
//!
//! So while it sleeps, and only then, a worker may run on one CPU, its *home*: the pool's
//! workers take turns through the CPUs they may use, and each new pool starts where the last one
//! stopped, so the sleepers of one pool sit on different CPUs whenever there are enough. A wake-up
//! then lands on the sleeper's own CPU. Once awake the worker gives itself back the mask it had
//! before, whatever set it (the process, a start hook, the user later on), so a busy worker is
//! as free to move as any thread. A worker allowed only one CPU is left as it is. If the kernel
//! refuses either change, the worker sleeps where it is, as before.
//!
//! The cost is three system calls (read the mask, narrow it, give it back) each time a worker
//! goes to sleep, next to the futex calls of the sleep itself; busy workers make none.

#[cfg(all(target_os = "linux", not(loom)))]
mod imp {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Workers started so far, over all pools: the next pool's first home.
    static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);

    /// The first of `workers` consecutive homes, for a new pool.
    pub(crate) fn first_home(workers: usize) -> usize {
        NEXT_HOME.fetch_add(workers, Ordering::Relaxed)
    }

    /// The CPUs a sleeping worker may use again once awake.
    #[derive(Debug)]
    #[must_use = "the worker keeps running on one CPU until the mask is given back"]
    pub(crate) struct Away(Vec<usize>);

    /// Lets the calling worker, about to sleep, run only on the CPU numbered `home` among those
    /// it may use (counting round). `None` if it may use only one, or the kernel refused.
    pub(crate) fn narrow_for_sleep(home: usize) -> Option<Away> {
        let cpus = braid_sys::cpu::allowed().ok()?;
        if cpus.len() < 2 {
            return None;
        }
        braid_sys::cpu::pin(0, cpus[home % cpus.len()]).ok()?;
        Some(Away(cpus))
    }

    impl Away {
        /// Gives the woken worker the CPUs it had before it slept.
        pub(crate) fn give_back(self) {
            // The kernel refuses only a mask with none of the CPUs the process may use now (its
            // cpuset changed meanwhile). The home CPU was one of them, so the kernel has already
            // given the worker the cpuset's CPUs in its place: nothing is left to undo.
            let _ = braid_sys::cpu::allow(0, &self.0);
        }
    }
}

#[cfg(not(all(target_os = "linux", not(loom))))]
mod imp {
    /// Elsewhere a worker sleeps wherever it is.
    pub(crate) fn first_home(_workers: usize) -> usize {
        0
    }

    #[derive(Debug)]
    pub(crate) struct Away;

    pub(crate) fn narrow_for_sleep(_home: usize) -> Option<Away> {
        None
    }

    impl Away {
        pub(crate) fn give_back(self) {}
    }
}

pub(crate) use imp::{first_home, narrow_for_sleep};
