//! The epoll backend (Linux, Android).
//!
//! The wake-up is an eventfd registered edge-triggered: every write posts a fresh edge, so the
//! counter is never read on the hot path. Where eventfd is missing, a non-blocking pipe takes
//! its place and is drained after each wake-up.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use braid_sys::{fd, syscall};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::events::{ERROR, HANGUP, READABLE, WRITABLE};
use crate::{Event, Interest, Mode, NOTIFY_KEY};

pub(crate) type RawEvent = libc::epoll_event;

pub(crate) struct Selector {
    epoll: OwnedFd,
    wake: Wake,
    /// Whether `epoll_pwait2` (nanosecond timeouts, Linux 5.11) is usable; cleared the first
    /// time the kernel answers `ENOSYS`.
    pwait2: AtomicBool,
}

enum Wake {
    EventFd(OwnedFd),
    Pipe { read: OwnedFd, write: OwnedFd },
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: eventfd takes a count and flags and returns a new descriptor or -1.
        let wake = match unsafe { syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)) } {
            // SAFETY: eventfd just returned this descriptor and nothing else owns it.
            Ok(fd) => Wake::EventFd(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(_) => Wake::pipe()?,
        };
        Selector::with_wake(wake)
    }

    /// A selector whose wake-up is the pipe fallback, so tests can exercise it.
    #[cfg(test)]
    pub(crate) fn with_pipe_wake() -> io::Result<Selector> {
        let selector = Selector::with_wake(Wake::pipe()?)?;
        selector.pwait2.store(false, Ordering::Relaxed);
        Ok(selector)
    }

    fn with_wake(wake: Wake) -> io::Result<Selector> {
        // SAFETY: epoll_create1 takes flags and returns a new descriptor or -1.
        let epoll = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
        // SAFETY: epoll_create1 just returned this descriptor and nothing else owns it.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let selector = Selector {
            epoll,
            wake,
            pwait2: AtomicBool::new(true),
        };
        let wake_fd = match &selector.wake {
            Wake::EventFd(fd) => fd.as_raw_fd(),
            Wake::Pipe { read, .. } => read.as_raw_fd(),
        };
        let flags = (libc::EPOLLIN | libc::EPOLLET) as u32;
        selector.ctl(libc::EPOLL_CTL_ADD, wake_fd, flags, NOTIFY_KEY as u64)?;
        Ok(selector)
    }

    pub(crate) fn add(
        &self,
        fd: RawFd,
        key: usize,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, flags(interest, mode), key as u64)
    }

    pub(crate) fn modify(
        &self,
        fd: RawFd,
        key: usize,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, flags(interest, mode), key as u64)
    }

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // Kernels before 2.6.9 want a non-null event even for a delete.
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: data };
        // SAFETY: `event` outlives the call and the epoll descriptor is owned by `self`.
        unsafe { syscall!(epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event)) }
            .map(drop)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::EPERM) {
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "this kind of file cannot be polled: regular files and directories are always ready, read them directly",
                    )
                } else {
                    e
                }
            })
    }

    pub(crate) fn wait(
        &self,
        raw: &mut Vec<RawEvent>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let capacity = raw.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        // epoll_wait counts whole milliseconds; epoll_pwait2 is needed only for the rest.
        let sub_ms = timeout.is_some_and(|t| t.subsec_nanos() % 1_000_000 != 0);
        let n = if sub_ms && self.pwait2.load(Ordering::Relaxed) {
            match self.pwait2(raw, capacity, timeout) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.pwait2.store(false, Ordering::Relaxed);
                    self.wait_ms(raw, capacity, timeout)?
                }
                result => result?,
            }
        } else {
            self.wait_ms(raw, capacity, timeout)?
        };
        // SAFETY: the kernel initialised the first `n` entries, and `n <= capacity`.
        unsafe { raw.set_len(n) };
        Ok(())
    }

    fn pwait2(
        &self,
        raw: &mut Vec<RawEvent>,
        capacity: libc::c_int,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as _,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |ts| ts as *const libc::timespec);
        // SAFETY: `raw` has room for `capacity` events, `ts_ptr` is null or points at `ts`,
        // which outlives the call, and a null signal mask leaves the mask alone.
        let n = unsafe {
            syscall!(syscall(
                libc::SYS_epoll_pwait2,
                self.epoll.as_raw_fd(),
                raw.as_mut_ptr(),
                capacity,
                ts_ptr,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            ))
        }?;
        Ok(n as usize)
    }

    fn wait_ms(
        &self,
        raw: &mut Vec<RawEvent>,
        capacity: libc::c_int,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        // Round up: a timeout of 0.3 ms must wait 1 ms, never 0.
        let ms = timeout.map_or(-1, |t| {
            t.as_nanos()
                .div_ceil(1_000_000)
                .min(libc::c_int::MAX as u128) as libc::c_int
        });
        // SAFETY: `raw` has room for `capacity` events.
        let n = unsafe {
            syscall!(epoll_wait(
                self.epoll.as_raw_fd(),
                raw.as_mut_ptr(),
                capacity,
                ms
            ))
        }?;
        Ok(n as usize)
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        match &self.wake {
            Wake::EventFd(fd) => {
                let one = 1u64.to_ne_bytes();
                // eventfd takes exactly 8 bytes: the amount to add to its counter.
                match fd::write(fd.as_raw_fd(), &one) {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The counter is full (after ~2^64 writes): reset it and post again.
                        let mut buf = [0u8; 8];
                        fd::read(fd.as_raw_fd(), &mut buf)?;
                        fd::write(fd.as_raw_fd(), &one).map(drop)
                    }
                    Err(e) => Err(e),
                }
            }
            Wake::Pipe { write, .. } => {
                match fd::write(write.as_raw_fd(), &[1]) {
                    // A full pipe already holds a wake-up that has not been drained.
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    pub(crate) fn ack_notify(&self) {
        if let Wake::Pipe { read, .. } = &self.wake {
            let mut buf = [0u8; 64];
            // The pipe is non-blocking, so the loop ends at `WouldBlock` (or any other error).
            while fd::read(read.as_raw_fd(), &mut buf).is_ok_and(|n| n > 0) {}
        }
    }
}

impl Wake {
    fn pipe() -> io::Result<Wake> {
        let (read, write) = fd::pipe()?;
        fd::set_nonblocking(read.as_fd(), true)?;
        fd::set_nonblocking(write.as_fd(), true)?;
        Ok(Wake::Pipe { read, write })
    }
}

fn flags(interest: Interest, mode: Mode) -> u32 {
    let mut flags = 0;
    if interest.is_readable() {
        flags |= libc::EPOLLIN | libc::EPOLLRDHUP;
    }
    if interest.is_writable() {
        flags |= libc::EPOLLOUT;
    }
    flags |= match mode {
        Mode::Level => 0,
        Mode::Edge => libc::EPOLLET,
        Mode::Oneshot => libc::EPOLLONESHOT,
    };
    flags as u32
}

pub(crate) fn is_notify(raw: &RawEvent) -> bool {
    // Copy the field out: `epoll_event` is packed on x86_64, so no references into it.
    let data = raw.u64;
    data == NOTIFY_KEY as u64
}

pub(crate) fn event(raw: &RawEvent) -> Event {
    let (bits, data) = (raw.events as libc::c_int, raw.u64);
    let mut flags = 0;
    if bits & (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR)
        != 0
    {
        flags |= READABLE;
    }
    if bits & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
        flags |= WRITABLE;
    }
    if bits & (libc::EPOLLHUP | libc::EPOLLRDHUP) != 0 {
        flags |= HANGUP;
    }
    if bits & libc::EPOLLERR != 0 {
        flags |= ERROR;
    }
    Event {
        key: data as usize,
        flags,
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("epoll")
            .field("fd", &self.epoll.as_raw_fd())
            .finish_non_exhaustive()
    }
}
