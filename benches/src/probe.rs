//! Measurements that need a process of their own: `compare` runs itself again with a hidden
//! first argument, and the child does one job and exits.

use std::io;
use std::process::{Command, Stdio};

/// Spawns 100,000 idle tasks on one runtime and prints the process's peak RSS in bytes.
pub const IDLE_TASKS: &str = "__braid-compare-idle-tasks";
/// Echoes 8-byte messages from stdin to stdout until stdin closes.
pub const PIPE_ECHO: &str = "__braid-compare-pipe-echo";

/// If `args` (without the program name) ask for a probe, runs it and returns the exit code
/// for `main` to exit with; otherwise returns `None`.
pub fn serve(args: &[String]) -> Option<i32> {
    let outcome = match args.first().map(String::as_str) {
        Some(IDLE_TASKS) => crate::executor::idle_tasks_probe(&args[1..]),
        Some(PIPE_ECHO) => crate::procpool::pipe_echo_probe(),
        _ => return None,
    };
    Some(match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    })
}

/// A command that runs this program as the probe `name` with `args`.
///
/// # Errors
///
/// When the path of the running program cannot be found.
pub fn command(name: &str, args: &[&str]) -> io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg(name)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    Ok(command)
}

/// The peak resident set size of this process so far, in bytes.
///
/// # Errors
///
/// When the operating system does not say.
#[cfg(target_os = "linux")]
pub fn peak_rss() -> io::Result<u64> {
    // Not `getrusage`: Linux carries `ru_maxrss` over from the parent through fork and exec,
    // so a fresh child would report its parent's peak. `VmHWM` belongs to this image alone.
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other("/proc/self/status has no VmHWM line"))
}

/// The peak resident set size of this process so far, in bytes.
///
/// # Errors
///
/// When `getrusage` fails.
#[cfg(not(target_os = "linux"))]
pub fn peak_rss() -> io::Result<u64> {
    let usage = rusage(libc::RUSAGE_SELF)?;
    let max = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    // macOS counts bytes; the BSDs count kibibytes.
    Ok(if cfg!(target_os = "macos") {
        max
    } else {
        max * 1024
    })
}

/// Voluntary context switches (a thread that blocked, then was woken) of this process's
/// threads and of every descendant process that has ended and been reaped.
///
/// # Errors
///
/// When `getrusage` fails.
pub fn voluntary_switches() -> io::Result<u64> {
    let own = rusage(libc::RUSAGE_SELF)?.ru_nvcsw;
    let children = rusage(libc::RUSAGE_CHILDREN)?.ru_nvcsw;
    Ok(u64::try_from(own).unwrap_or(0) + u64::try_from(children).unwrap_or(0))
}

/// `getrusage(who)`: the resources this process (`RUSAGE_SELF`) or, on Linux, the calling
/// thread (`RUSAGE_THREAD`) has used.
///
/// # Errors
///
/// When `getrusage` fails.
pub(crate) fn rusage(who: libc::c_int) -> io::Result<libc::rusage> {
    // SAFETY: `rusage` is plain old data for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the call to fill.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_grows_with_touched_memory() {
        let before = peak_rss().unwrap();
        assert!(before > 0);
        // Tests running alongside may have raised the peak and freed their memory since, so
        // a block of a fixed size might not pass it: this one is bigger than the whole peak.
        let size = usize::try_from(before).unwrap() + (64 << 20);
        let block = vec![1u8; size];
        std::hint::black_box(&block);
        assert!(peak_rss().unwrap() >= before + (64 << 20));
    }

    #[test]
    fn other_arguments_are_not_a_probe() {
        assert_eq!(serve(&["--quick".to_string()]), None);
        assert_eq!(serve(&[]), None);
    }
}
