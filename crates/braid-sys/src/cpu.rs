//! Which CPUs a thread may run on (Linux's affinity masks): for programs and tests that place
//! threads on cores themselves, and for the thread pool, whose idle workers sleep each on a CPU
//! of its own.

use std::io;
use std::mem;

/// The CPUs the calling thread may run on, in increasing order.
///
/// # Errors
///
/// What `sched_getaffinity` reports.
pub fn allowed() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `set` is a valid set of the size passed; 0 names the calling thread.
    unsafe { crate::syscall!(sched_getaffinity(0, mem::size_of_val(&set), &mut set)) }?;
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below the set's size.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Lets thread `tid` of this process (0: the calling thread) run on `cpu` only.
///
/// # Errors
///
/// As [`allow`].
pub fn pin(tid: libc::pid_t, cpu: usize) -> io::Result<()> {
    allow(tid, &[cpu])
}

/// Lets thread `tid` of this process (0: the calling thread) run on the CPUs in `cpus` only,
/// in any order; what [`allowed`] returned earlier gives a thread its old mask back.
///
/// # Errors
///
/// `InvalidInput` for a CPU number the mask cannot hold; otherwise what `sched_setaffinity`
/// reports (`EINVAL` for a list that names no CPU this process may use, `ESRCH` for no such
/// thread).
pub fn allow(tid: libc::pid_t, cpus: &[usize]) -> io::Result<()> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "CPU {cpu} is past the last one an affinity mask holds ({})",
                    libc::CPU_SETSIZE - 1
                ),
            ));
        }
        // SAFETY: `cpu` is below the set's size, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid set of the size passed.
    unsafe { crate::syscall!(sched_setaffinity(tid, mem::size_of_val(&set), &set)) }?;
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_thread_pinned_to_an_allowed_cpu_may_run_there_only() {
        let cpus = allowed().unwrap();
        assert!(!cpus.is_empty());
        let cpu = *cpus.last().unwrap();
        let pinned = std::thread::spawn(move || {
            pin(0, cpu).unwrap();
            allowed().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(pinned, vec![cpu]);
        // This thread's own mask is its own.
        assert_eq!(allowed().unwrap(), cpus);
    }

    #[test]
    fn a_cpu_past_the_mask_is_invalid_input() {
        let error = pin(0, libc::CPU_SETSIZE as usize).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("past the last"), "{error}");
    }

    #[test]
    fn a_thread_allowed_a_list_of_cpus_gets_that_list_and_can_be_given_its_old_mask_back() {
        let cpus = allowed().unwrap();
        assert!(
            cpus.len() >= 2,
            "this test needs two CPUs to choose from, the process may use {cpus:?}"
        );
        let (first, second) = (cpus[0], cpus[1]);
        let (narrowed, restored) = std::thread::spawn(move || {
            let before = allowed().unwrap();
            // Given out of order and with a repeat: the mask is a set.
            let chosen = [second, first, second];
            allow(0, &chosen).unwrap();
            let narrowed = allowed().unwrap();
            allow(0, &before).unwrap();
            (narrowed, allowed().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(narrowed, vec![first, second]);
        assert_eq!(restored, allowed().unwrap());
    }

    #[test]
    fn an_empty_list_is_refused_and_leaves_the_mask_alone() {
        let (error, after) = std::thread::spawn(|| {
            let error = allow(0, &[]).unwrap_err();
            (error, allowed().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(after, allowed().unwrap());
    }

    #[test]
    fn no_such_thread_is_an_error() {
        let cpu = allowed().unwrap()[0];
        // Pids stop well below this on Linux (`pid_max` is at most 2^22).
        let error = pin(libc::pid_t::MAX, cpu).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ESRCH));
    }
}
