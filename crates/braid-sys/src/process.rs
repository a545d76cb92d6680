//! Processes: waiting for one child without reaping anyone else's, pidfds, signals to a
//! process, and how a process ended.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};

use crate::retry;

/// How a process ended, decoded from a `waitpid` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExitStatus {
    code: Option<i32>,
    signal: Option<i32>,
}

impl ExitStatus {
    /// A process that ended in a way nobody could learn (it was reaped elsewhere).
    pub const UNKNOWN: ExitStatus = ExitStatus {
        code: None,
        signal: None,
    };

    /// A process that called `exit(code)`.
    pub const fn exited(code: i32) -> ExitStatus {
        ExitStatus {
            code: Some(code),
            signal: None,
        }
    }

    /// A process that a signal ended.
    pub const fn signaled(signal: i32) -> ExitStatus {
        ExitStatus {
            code: None,
            signal: Some(signal),
        }
    }

    /// Decodes the status word `waitpid` wrote.
    pub fn from_raw(status: libc::c_int) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus::exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            ExitStatus::signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::UNKNOWN
        }
    }

    /// The exit code, if the process exited.
    pub fn code(self) -> Option<i32> {
        self.code
    }

    /// The signal that ended the process, if one did.
    pub fn signal(self) -> Option<i32> {
        self.signal
    }

    /// The status as one number, for a message between processes: the code in the low
    /// byte, or `0x100` plus the signal, or `0x200` when unknown.
    pub fn to_wire(self) -> i32 {
        match (self.code, self.signal) {
            (Some(code), _) => code & 0xff,
            (None, Some(signal)) => 0x100 | (signal & 0xff),
            (None, None) => 0x200,
        }
    }

    /// Reads what [`to_wire`](ExitStatus::to_wire) wrote; any other number is
    /// [`UNKNOWN`](ExitStatus::UNKNOWN).
    pub fn from_wire(raw: i32) -> ExitStatus {
        match raw >> 8 {
            0 => ExitStatus::exited(raw & 0xff),
            1 => ExitStatus::signaled(raw & 0xff),
            _ => ExitStatus::UNKNOWN,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => match crate::signal::name(signal) {
                Some(name) => write!(f, "signal {signal} ({name})"),
                None => write!(f, "signal {signal}"),
            },
            _ => f.write_str("unknown status"),
        }
    }
}

fn pid_t(pid: u32) -> io::Result<libc::pid_t> {
    libc::pid_t::try_from(pid)
        .ok()
        .filter(|&pid| pid > 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{pid} is not a process id"),
            )
        })
}

/// Waits for child `pid` to end and reaps it, retrying `EINTR`; with `block` false, returns
/// `Ok(None)` at once while it runs. Only `pid` is waited for, never another child.
///
/// # Errors
///
/// `ECHILD` when `pid` is not (or no longer) a child of this process; `InvalidInput` for a
/// number that is no pid.
pub fn wait_pid(pid: u32, block: bool) -> io::Result<Option<ExitStatus>> {
    Ok(wait(pid_t(pid)?, block)?.map(|(_, status)| status))
}

/// Waits for any child to end: its pid and how it ended; `Ok(None)` when `block` is false
/// and none has ended yet.
///
/// # Errors
///
/// `ECHILD` when there is no child left.
pub fn wait_any(block: bool) -> io::Result<Option<(u32, ExitStatus)>> {
    wait(-1, block)
}

fn wait(pid: libc::pid_t, block: bool) -> io::Result<Option<(u32, ExitStatus)>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    let mut status = 0;
    // SAFETY: `status` is a valid place for waitpid to write the status word.
    let ended = retry(|| unsafe { crate::syscall!(waitpid(pid, &mut status, flags)) })?;
    Ok((ended > 0).then(|| (ended as u32, ExitStatus::from_raw(status))))
}

/// Sends `signal` to process `pid` with `kill(2)`.
///
/// Prefer [`pidfd_send_signal`] where there is a pidfd: a pid that was reaped may already
/// belong to another process.
///
/// # Errors
///
/// `ESRCH` when no such process exists, `EINVAL` for an invalid signal number, `EPERM`;
/// `InvalidInput` for a number that is no pid (0 and negative numbers, which `kill` reads as
/// process groups, are refused).
pub fn kill(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = pid_t(pid)?;
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { crate::syscall!(kill(pid, signal)) }.map(drop)
}

/// A descriptor that refers to process `pid` and becomes readable when it ends (Linux 5.3
/// and later); close-on-exec.
///
/// # Errors
///
/// `ENOSYS` on older kernels, `EPERM` in sandboxes that forbid it, `ESRCH` when there is no
/// such process.
#[cfg(target_os = "linux")]
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = pid_t(pid)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { crate::syscall!(syscall(libc::SYS_pidfd_open, pid, 0)) }?;
    // SAFETY: the kernel just returned this descriptor to this call alone; descriptors fit
    // in a c_int.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The pid of the process a pidfd refers to, or `None` once that process has been reaped.
///
/// Asks the pidfd itself (`PIDFD_GET_INFO`, Linux 6.13): one call. Older kernels refuse
/// that request, and the pid is then read from the descriptor's `Pid:` line in
/// `/proc/self/fdinfo` (an open, a stat, a few reads and a close).
///
/// # Errors
///
/// When `/proc` cannot be read, or `pidfd` is not a pidfd.
#[cfg(target_os = "linux")]
pub fn pidfd_pid(pidfd: BorrowedFd<'_>) -> io::Result<Option<u32>> {
    /// The first version of the kernel's `struct pidfd_info` (`PIDFD_INFO_SIZE_VER0`):
    /// the request mask, then the ids, `pid` first among them.
    #[repr(C)]
    struct PidfdInfo {
        mask: u64,
        cgroupid: u64,
        pid: u32,
        rest: [u32; 11],
    }
    /// `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)` for the 64-byte version above.
    const PIDFD_GET_INFO: libc::c_ulong = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;
    const PIDFD_INFO_PID: u64 = 1;
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_PID,
        cgroupid: 0,
        pid: 0,
        rest: [0; 11],
    };
    // SAFETY: `info` is a live, writable 64-byte `pidfd_info`, the size the request names;
    // the kernel writes no more than that. The borrow keeps `pidfd` open.
    match unsafe {
        crate::syscall!(ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut PidfdInfo
        ))
    } {
        Ok(_) if info.pid > 0 => Ok(Some(info.pid)),
        // The process has been reaped.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        // A kernel without the request: ask /proc.
        _ => pidfd_pid_from_proc(pidfd),
    }
}

/// [`pidfd_pid`] for kernels older than `PIDFD_GET_INFO`: the `Pid:` line of the
/// descriptor's `/proc/self/fdinfo` entry.
#[cfg(target_os = "linux")]
fn pidfd_pid_from_proc(pidfd: BorrowedFd<'_>) -> io::Result<Option<u32>> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    let pid = info
        .lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .and_then(|pid| pid.trim().parse::<i64>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a pidfd"))?;
    Ok(u32::try_from(pid).ok().filter(|&pid| pid > 0))
}

/// Only Linux has pidfds: this always fails with `Unsupported`.
///
/// # Errors
///
/// Always.
#[cfg(not(target_os = "linux"))]
pub fn pidfd_pid(pidfd: std::os::fd::BorrowedFd<'_>) -> io::Result<Option<u32>> {
    let _ = pidfd;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfds exist on Linux only",
    ))
}

/// Only Linux has pidfds: this always fails with `Unsupported`.
///
/// # Errors
///
/// Always.
#[cfg(not(target_os = "linux"))]
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let _ = pid;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfds exist on Linux only",
    ))
}

/// Sends `signal` to the process a pidfd refers to. Unlike [`kill`] it cannot reach another
/// process that reused the pid.
///
/// # Errors
///
/// `ESRCH` when the process has ended and been reaped, `EINVAL` for an invalid signal.
#[cfg(target_os = "linux")]
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd_send_signal takes a descriptor the borrow keeps open, a signal number, a
    // null siginfo pointer (allowed: the kernel fills one in) and flags.
    unsafe {
        crate::syscall!(syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        ))
    }
    .map(drop)
}

/// Only Linux has pidfds: this always fails with `Unsupported`.
///
/// # Errors
///
/// Always.
#[cfg(not(target_os = "linux"))]
pub fn pidfd_send_signal(
    pidfd: std::os::fd::BorrowedFd<'_>,
    signal: libc::c_int,
) -> io::Result<()> {
    let _ = (pidfd, signal);
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfds exist on Linux only",
    ))
}

/// Asks the kernel to kill this process with `SIGKILL` when the thread that created it ends
/// (Linux and Android: `PR_SET_PDEATHSIG`). Returns whether the system offers it.
pub fn die_with_parent() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let signal = libc::SIGKILL as libc::c_ulong;
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; no memory is touched.
        unsafe { crate::syscall!(prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0)) }.is_ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    false
}

/// The pid of this process's parent; `1` (or a subreaper's) once the parent has died.
pub fn parent_id() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() as u32 }
}

/// This machine's host name (`gethostname`), as the system has it.
///
/// # Errors
///
/// The system's error, or `InvalidData` for a name that is not UTF-8.
pub fn host_name() -> io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed with it.
    unsafe { crate::syscall!(gethostname(buf.as_mut_ptr().cast(), buf.len())) }?;
    // A name that fills the buffer may come without its terminating NUL.
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..len].to_vec())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the host name is not UTF-8"))
}

/// Creates a child process: `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
///
/// # Errors
///
/// `EAGAIN` or `ENOMEM` when the system cannot make another process.
///
/// # Safety
///
/// The child is a copy of only the calling thread. Any lock another thread held at the fork
/// (the allocator's, stdout's, any `Mutex`) stays locked forever in the child, so when the
/// caller has other threads the child must call only async-signal-safe functions until it
/// `exec`s or [`exit_now`]s.
pub unsafe fn fork() -> io::Result<Option<u32>> {
    // SAFETY: the caller upholds the contract above for the child.
    let pid = unsafe { crate::syscall!(fork()) }?;
    Ok((pid != 0).then_some(pid as u32))
}

/// Runs `program` in a new process that inherits `inherit` (descriptors of this process,
/// whatever their close-on-exec flag) and no other descriptor this process marked
/// close-on-exec, with standard input from `/dev/null`, the arguments `argv` (`argv[0]`
/// first; the program's path when `argv` is empty), and this process's environment plus
/// `env` (whose variables replace ones of the same name). Returns its pid; the caller reaps
/// it.
///
/// `env` is handed the numbers `inherit`'s descriptors get in the new process, to tell the
/// program where they are: they are duplicated onto the lowest numbers above standard
/// error that are none of `inherit`'s own, so that none of them closes another.
///
/// Made with `posix_spawn`, which the system's C library runs through `vfork` or
/// `clone(CLONE_VM | CLONE_VFORK)`: unlike `fork` followed by `exec`, it does not copy this
/// process's page tables, so its cost does not grow with this process's memory, and no
/// code runs in a copy of a threaded process. The new process starts with no signal
/// blocked and `SIGPIPE` at its default action, as `std::process::Command` leaves it.
///
/// # Errors
///
/// A path or variable with a NUL byte (`InvalidInput`); the system's error when the
/// process cannot be made or the program cannot be run (`ENOENT`, `EACCES`, ...).
pub fn spawn(
    program: &std::path::Path,
    argv: &[&std::ffi::OsStr],
    inherit: &[std::os::fd::RawFd],
    env: impl FnOnce(&[std::os::fd::RawFd]) -> Vec<(std::ffi::OsString, std::ffi::OsString)>,
) -> io::Result<u32> {
    use std::ffi::CString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    let c_string = |bytes: Vec<u8>| {
        CString::new(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a NUL byte in a spawn argument",
            )
        })
    };
    let numbers: Vec<std::os::fd::RawFd> = (3..)
        .filter(|n| !inherit.contains(n))
        .take(inherit.len())
        .collect();
    let extra = env(&numbers);
    let path = c_string(program.as_os_str().as_bytes().to_vec())?;
    let argv = match argv {
        [] => vec![path.clone()],
        argv => argv
            .iter()
            .map(|arg| c_string(arg.as_bytes().to_vec()))
            .collect::<io::Result<Vec<CString>>>()?,
    };
    // This process's variables that `extra` does not replace, then `extra`'s.
    let inherited = std::env::vars_os()
        .filter(|(name, _)| extra.iter().all(|(extra_name, _)| extra_name != name));
    let envp = inherited
        .chain(extra.iter().cloned())
        .map(|(name, value)| {
            let mut entry = name.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            c_string(entry)
        })
        .collect::<io::Result<Vec<CString>>>()?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());

    let mut actions = SpawnActions::new()?;
    let attributes = SpawnAttributes::new()?;
    // SAFETY: `actions` was initialised; the descriptors and the NUL-terminated path are
    // read by posix_spawn, while they are all alive.
    unsafe {
        for (&ours, &theirs) in inherit.iter().zip(&numbers) {
            spawn_check(libc::posix_spawn_file_actions_adddup2(
                actions.as_mut_ptr(),
                ours,
                theirs,
            ))?;
        }
        spawn_check(libc::posix_spawn_file_actions_addopen(
            actions.as_mut_ptr(),
            libc::STDIN_FILENO,
            c"/dev/null".as_ptr(),
            libc::O_RDONLY,
            0,
        ))?;
    }
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: the path and each argument are
    // NUL-terminated strings alive until it returns, both arrays end with a null pointer,
    // and `actions` and `attributes` were initialised.
    spawn_check(unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            actions.as_ptr(),
            attributes.as_ptr(),
            argv_ptrs.as_ptr() as *const *mut libc::c_char,
            envp_ptrs.as_ptr() as *const *mut libc::c_char,
        )
    })?;
    Ok(pid as u32)
}

/// `posix_spawn`'s functions return an error number instead of setting `errno`.
fn spawn_check(code: libc::c_int) -> io::Result<()> {
    match code {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// A `posix_spawn_file_actions_t`, destroyed on drop.
struct SpawnActions(Box<std::mem::MaybeUninit<libc::posix_spawn_file_actions_t>>);

impl SpawnActions {
    fn new() -> io::Result<SpawnActions> {
        let mut raw = Box::new(std::mem::MaybeUninit::uninit());
        // SAFETY: the pointer is to memory for one `posix_spawn_file_actions_t`, which init
        // fills in; only then is it wrapped, and so destroyed on drop.
        spawn_check(unsafe { libc::posix_spawn_file_actions_init(raw.as_mut_ptr()) })?;
        Ok(SpawnActions(raw))
    }

    fn as_ptr(&self) -> *const libc::posix_spawn_file_actions_t {
        self.0.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::posix_spawn_file_actions_t {
        self.0.as_mut_ptr().cast()
    }
}

impl Drop for SpawnActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed only here.
        unsafe { libc::posix_spawn_file_actions_destroy(self.as_mut_ptr()) };
    }
}

/// A `posix_spawnattr_t` that empties the new process's signal mask and gives `SIGPIPE`
/// back its default action (Rust's runtime ignores it, and an ignored signal stays ignored
/// across `exec`); destroyed on drop.
struct SpawnAttributes(Box<std::mem::MaybeUninit<libc::posix_spawnattr_t>>);

impl SpawnAttributes {
    fn new() -> io::Result<SpawnAttributes> {
        let mut raw = Box::new(std::mem::MaybeUninit::uninit());
        // SAFETY: as in `SpawnActions::new`.
        spawn_check(unsafe { libc::posix_spawnattr_init(raw.as_mut_ptr()) })?;
        let mut attributes = SpawnAttributes(raw);
        // SAFETY: zeroed `sigset_t`s are valid arguments to sigemptyset/sigaddset, which
        // initialise them; `attributes` was initialised above.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            spawn_check(libc::posix_spawnattr_setsigmask(
                attributes.as_mut_ptr(),
                &none,
            ))?;
            spawn_check(libc::posix_spawnattr_setsigdefault(
                attributes.as_mut_ptr(),
                &pipe,
            ))?;
            let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            spawn_check(libc::posix_spawnattr_setflags(
                attributes.as_mut_ptr(),
                flags as libc::c_short,
            ))?;
        }
        Ok(attributes)
    }

    fn as_ptr(&self) -> *const libc::posix_spawnattr_t {
        self.0.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::posix_spawnattr_t {
        self.0.as_mut_ptr().cast()
    }
}

impl Drop for SpawnAttributes {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed only here.
        unsafe { libc::posix_spawnattr_destroy(self.as_mut_ptr()) };
    }
}

/// Ends this process at once with `code`: no exit handlers, no flushing of buffers that
/// belong to a parent this process was forked from. Async-signal-safe.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::os::fd::{AsRawFd, RawFd};
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn the_host_name_is_the_one_hostname_prints() {
        let name = host_name().unwrap();
        let printed = Command::new("hostname").output().unwrap();
        assert!(printed.status.success());
        assert!(!name.is_empty());
        assert_eq!(name, String::from_utf8_lossy(&printed.stdout).trim());
    }

    #[test]
    fn exit_status_survives_its_wire_form() {
        for status in [
            ExitStatus::exited(0),
            ExitStatus::exited(255),
            ExitStatus::signaled(libc::SIGKILL),
            ExitStatus::UNKNOWN,
        ] {
            assert_eq!(ExitStatus::from_wire(status.to_wire()), status);
        }
        assert_eq!(ExitStatus::from_wire(0x7ff), ExitStatus::UNKNOWN);
        assert_eq!(
            ExitStatus::signaled(libc::SIGKILL).to_string(),
            "signal 9 (SIGKILL)"
        );
        assert_eq!(ExitStatus::exited(3).to_string(), "exit code 3");
    }

    #[test]
    fn wait_pid_reaps_only_its_own_child() {
        let busy = Command::new("sleep").arg("30").spawn().unwrap().id();
        let quick = Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap()
            .id();
        assert_eq!(wait_pid(quick, true).unwrap(), Some(ExitStatus::exited(7)));
        assert_eq!(wait_pid(busy, false).unwrap(), None);
        kill(busy, libc::SIGKILL).unwrap();
        assert_eq!(
            wait_pid(busy, true).unwrap(),
            Some(ExitStatus::signaled(libc::SIGKILL))
        );
        // Reaped: it is no longer a child of this process.
        assert_eq!(
            wait_pid(busy, false).unwrap_err().raw_os_error(),
            Some(libc::ECHILD)
        );
    }

    /// Runs `script` under `/bin/sh` with `inherit`, the first inherited descriptor being a
    /// pipe's write end the script may write to as `$OUT`; returns what it wrote and how it
    /// ended.
    fn spawn_sh(
        script: &str,
        more: &[RawFd],
        env: &[(&str, &str)],
    ) -> (String, ExitStatus, Vec<RawFd>) {
        use std::ffi::{OsStr, OsString};
        use std::io::Read;
        let (read_end, write_end) = crate::fd::pipe().unwrap();
        let mut inherit = vec![write_end.as_raw_fd()];
        inherit.extend_from_slice(more);
        let mut told = Vec::new();
        let pid = spawn(
            Path::new("/bin/sh"),
            &[OsStr::new("sh"), OsStr::new("-c"), OsStr::new(script)],
            &inherit,
            |numbers| {
                told = numbers.to_vec();
                // $OUT, then $FD1, $FD2, ... for `more`.
                let mut vars: Vec<(OsString, OsString)> = numbers
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let name = if i == 0 {
                            "OUT".to_string()
                        } else {
                            format!("FD{i}")
                        };
                        (name.into(), n.to_string().into())
                    })
                    .collect();
                vars.extend(
                    env.iter()
                        .map(|(k, v)| (OsString::from(k), OsString::from(v))),
                );
                vars
            },
        )
        .unwrap();
        drop(write_end);
        let mut out = String::new();
        std::fs::File::from(read_end)
            .read_to_string(&mut out)
            .unwrap();
        let status = wait_pid(pid, true).unwrap().unwrap();
        (out, status, told)
    }

    #[test]
    fn spawn_hands_each_inherited_descriptor_over_under_the_number_it_tells() {
        use std::io::Read;
        let (extra_read, extra_write) = crate::fd::pipe().unwrap();
        let (out, status, told) = spawn_sh(
            r#"echo "to out $OUT" >&$OUT; echo "to extra $FD1" >&$FD1"#,
            &[extra_write.as_raw_fd()],
            &[],
        );
        drop(extra_write);
        let mut extra = String::new();
        std::fs::File::from(extra_read)
            .read_to_string(&mut extra)
            .unwrap();
        assert_eq!(status, ExitStatus::exited(0));
        assert_eq!(told.len(), 2);
        assert!(told.iter().all(|&n| n >= 3), "{told:?}");
        assert_eq!(out, format!("to out {}\n", told[0]));
        assert_eq!(extra, format!("to extra {}\n", told[1]));
    }

    #[test]
    fn spawn_closes_what_is_close_on_exec_and_not_inherited() {
        let (_kept_read, kept_write) = crate::fd::pipe().unwrap();
        let (out, status, told) = spawn_sh(
            &format!(
                r#"(true >&{fd}) 2>/dev/null && echo open >&$OUT || echo closed >&$OUT"#,
                fd = kept_write.as_raw_fd()
            ),
            &[],
            &[],
        );
        assert_ne!(told[0], kept_write.as_raw_fd());
        assert_eq!((out.as_str(), status), ("closed\n", ExitStatus::exited(0)));
    }

    #[test]
    fn spawn_gives_the_environment_with_its_additions_and_stdin_from_dev_null() {
        let (out, status, _) = spawn_sh(
            r#"cat >&$OUT; echo "[$HOME|$BRAID_SPAWN_TEST|${PATH:+path}]" >&$OUT"#,
            &[],
            &[("HOME", "/nowhere"), ("BRAID_SPAWN_TEST", "a b=c")],
        );
        assert_eq!(status, ExitStatus::exited(0));
        // cat read nothing: standard input is /dev/null, not this process's.
        assert_eq!(out, "[/nowhere|a b=c|path]\n");
    }

    #[test]
    fn spawn_starts_with_no_signal_blocked_and_sigpipe_at_its_default() {
        // Rust's runtime ignores SIGPIPE in this process; the new one must not.
        let (_, status, _) = spawn_sh("kill -PIPE $$; exit 3", &[], &[]);
        assert_eq!(status, ExitStatus::signaled(libc::SIGPIPE));
        // A signal blocked in the spawning thread is not blocked in the new process.
        std::thread::spawn(|| {
            // SAFETY: zeroed sigset_t initialised by sigemptyset; the mask changes only on
            // this thread, which ends here.
            unsafe {
                let mut term: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut term);
                libc::sigaddset(&mut term, libc::SIGTERM);
                assert_eq!(
                    libc::pthread_sigmask(libc::SIG_BLOCK, &term, std::ptr::null_mut()),
                    0
                );
            }
            let (_, status, _) = spawn_sh("kill -TERM $$; exit 3", &[], &[]);
            assert_eq!(status, ExitStatus::signaled(libc::SIGTERM));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn spawn_reports_a_missing_program_and_a_nul_byte() {
        use std::ffi::OsStr;
        let missing = spawn(
            Path::new("/nonexistent/braid-program"),
            &[],
            &[],
            |_| vec![],
        );
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
        let nul = spawn(
            Path::new("/bin/sh"),
            &[OsStr::new("sh"), OsStr::new("-c\0")],
            &[],
            |_| vec![],
        );
        assert_eq!(nul.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // A descriptor to inherit that is not open: an error, not a process without it.
        // (A number above any descriptor limit: a closed low number could be reused by
        // another test's thread meanwhile.)
        let bad = spawn(Path::new("/bin/true"), &[], &[1 << 30], |_| vec![]);
        assert_eq!(bad.unwrap_err().raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn bad_pids_are_refused_before_any_system_call() {
        for pid in [0, u32::MAX] {
            assert_eq!(
                kill(pid, libc::SIGTERM).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(
                wait_pid(pid, false).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pidfd_signals_its_process_and_reports_its_end() {
        use std::os::fd::AsFd;
        let child = Command::new("sleep").arg("30").spawn().unwrap().id();
        let pidfd = pidfd_open(child).unwrap();
        assert_eq!(pidfd_pid(pidfd.as_fd()).unwrap(), Some(child));
        // Older kernels' way gives the same answer.
        assert_eq!(pidfd_pid_from_proc(pidfd.as_fd()).unwrap(), Some(child));
        pidfd_send_signal(pidfd.as_fd(), libc::SIGTERM).unwrap();
        let mut poll = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { crate::syscall!(poll(&mut poll, 1, 10_000)) }.unwrap();
        assert_eq!(ready, 1, "the pidfd did not report the end of its process");
        assert_eq!(
            wait_pid(child, true).unwrap(),
            Some(ExitStatus::signaled(libc::SIGTERM))
        );
        assert_eq!(pidfd_pid(pidfd.as_fd()).unwrap(), None, "reaped");
        assert_eq!(pidfd_pid_from_proc(pidfd.as_fd()).unwrap(), None, "reaped");
        assert_eq!(
            pidfd_send_signal(pidfd.as_fd(), libc::SIGTERM)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ESRCH)
        );
    }
}
