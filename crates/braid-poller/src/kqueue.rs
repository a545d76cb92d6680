//! The kqueue backend (macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly).
//!
//! Readable and writable are two filters on one descriptor. Every change is submitted with
//! `EV_RECEIPT`, so the kernel answers each one with its own error code instead of
//! swallowing failures or mixing them with pending events. The wake-up is an `EVFILT_USER`
//! event with `EV_CLEAR`, which resets itself once reported.

// `kevent`'s field types differ between the BSDs (NetBSD widens `filter` and `flags`), so
// casts that are no-ops on one system are needed on another.
#![allow(clippy::unnecessary_cast)]

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

use braid_sys::syscall;

use crate::events::{ERROR, HANGUP, READABLE, WRITABLE};
use crate::{Event, Interest, Mode, NOTIFY_KEY};

pub(crate) type RawEvent = libc::kevent;

/// The identifier of the `EVFILT_USER` wake-up event.
const WAKE_IDENT: usize = 0;

pub(crate) struct Selector {
    kqueue: OwnedFd,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: kqueue takes nothing and returns a new descriptor or -1.
        let kq = unsafe { syscall!(kqueue()) }?;
        // SAFETY: kqueue just returned this descriptor and nothing else owns it.
        let kqueue = unsafe { OwnedFd::from_raw_fd(kq) };
        braid_sys::fd::set_cloexec(kqueue.as_raw_fd(), true)?;
        let selector = Selector { kqueue };
        let wake = change(
            WAKE_IDENT,
            libc::EVFILT_USER,
            libc::EV_ADD | libc::EV_CLEAR | libc::EV_RECEIPT,
            0,
            NOTIFY_KEY,
        );
        selector.submit(&mut [wake], &[])?;
        Ok(selector)
    }

    pub(crate) fn add(
        &self,
        fd: RawFd,
        key: usize,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.register(fd, key, interest, mode)
    }

    pub(crate) fn modify(
        &self,
        fd: RawFd,
        key: usize,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.register(fd, key, interest, mode)
    }

    fn register(&self, fd: RawFd, key: usize, interest: Interest, mode: Mode) -> io::Result<()> {
        // EV_ENABLE undoes a disable left by an earlier oneshot (`EV_DISPATCH`) event, which
        // a plain EV_ADD would keep.
        let on = libc::EV_ADD | libc::EV_ENABLE | libc::EV_RECEIPT | mode_flags(mode);
        let off = libc::EV_DELETE | libc::EV_RECEIPT;
        let ident = fd as usize;
        let read = if interest.is_readable() { on } else { off };
        let write = if interest.is_writable() { on } else { off };
        let mut changes = [
            change(ident, libc::EVFILT_READ, read, 0, key),
            change(ident, libc::EVFILT_WRITE, write, 0, key),
        ];
        // Deleting a filter that was never added answers ENOENT, and adding a pipe whose
        // peer is gone answers EPIPE (its EOF is still reported): neither is a failure here.
        self.submit(&mut changes, &[libc::ENOENT, libc::EPIPE])
    }

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        let flags = libc::EV_DELETE | libc::EV_RECEIPT;
        let ident = fd as usize;
        let mut changes = [
            change(ident, libc::EVFILT_READ, flags, 0, 0),
            change(ident, libc::EVFILT_WRITE, flags, 0, 0),
        ];
        self.submit(&mut changes, &[libc::ENOENT])?;
        // One filter missing is normal (the interest had only the other); both missing means
        // the descriptor was not registered.
        let missing = changes
            .iter()
            .all(|c| c.flags & libc::EV_ERROR != 0 && c.data as libc::c_int == libc::ENOENT);
        if missing {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the descriptor is not registered with this poller",
            ));
        }
        Ok(())
    }

    /// Applies `changes`, each with `EV_RECEIPT`, and reports the first error that is not in
    /// `ignored`. The kernel writes each change's result back into `changes`.
    fn submit(&self, changes: &mut [RawEvent], ignored: &[libc::c_int]) -> io::Result<()> {
        let n = changes.len() as libc::c_int;
        // SAFETY: `changes` is valid for reads and writes of `n` entries for the whole call,
        // and a null timeout is allowed (EV_RECEIPT makes the call return at once).
        unsafe {
            syscall!(kevent(
                self.kqueue.as_raw_fd(),
                changes.as_ptr(),
                n,
                changes.as_mut_ptr(),
                n,
                ptr::null(),
            ))
        }?;
        for c in changes.iter() {
            let errno = c.data as libc::c_int;
            if c.flags & libc::EV_ERROR != 0 && errno != 0 && !ignored.contains(&errno) {
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        Ok(())
    }

    pub(crate) fn wait(
        &self,
        raw: &mut Vec<RawEvent>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let capacity = raw.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as _,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(ptr::null(), |ts| ts as *const libc::timespec);
        // SAFETY: `raw` has room for `capacity` events and `ts_ptr` is null or points at
        // `ts`, which outlives the call.
        let n = unsafe {
            syscall!(kevent(
                self.kqueue.as_raw_fd(),
                ptr::null(),
                0,
                raw.as_mut_ptr(),
                capacity,
                ts_ptr,
            ))
        }?;
        // SAFETY: the kernel initialised the first `n` entries, and `n <= capacity`.
        unsafe { raw.set_len(n as usize) };
        Ok(())
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        let trigger = change(
            WAKE_IDENT,
            libc::EVFILT_USER,
            libc::EV_RECEIPT,
            libc::NOTE_TRIGGER,
            NOTIFY_KEY,
        );
        self.submit(&mut [trigger], &[])
    }

    pub(crate) fn ack_notify(&self) {
        // EV_CLEAR resets the user event as it is reported.
    }
}

fn mode_flags(mode: Mode) -> u16 {
    let flags = match mode {
        Mode::Level => 0,
        // Without EV_CLEAR a ready descriptor would be reported on every wait.
        Mode::Edge => libc::EV_CLEAR,
        // EV_DISPATCH disables the filter after one event but keeps it registered, so a
        // later modify re-arms it and a delete still finds it.
        Mode::Oneshot => libc::EV_DISPATCH,
    };
    flags as u16
}

/// A change record; the field types differ between the BSDs, hence the casts.
fn change(ident: usize, filter: i16, flags: u16, fflags: u32, key: usize) -> RawEvent {
    // SAFETY: `kevent` is plain data (integers and a pointer), for which all zeroes is valid.
    let mut event: RawEvent = unsafe { std::mem::zeroed() };
    event.ident = ident as _;
    event.filter = filter as _;
    event.flags = flags as _;
    event.fflags = fflags as _;
    event.udata = key as _;
    event
}

pub(crate) fn is_notify(raw: &RawEvent) -> bool {
    raw.filter as i16 == libc::EVFILT_USER as i16
}

pub(crate) fn event(raw: &RawEvent) -> Event {
    let mut flags = 0;
    if raw.filter as i16 == libc::EVFILT_READ as i16 {
        flags |= READABLE;
    }
    if raw.filter as i16 == libc::EVFILT_WRITE as i16 {
        flags |= WRITABLE;
    }
    let raw_flags = raw.flags as u16;
    if raw_flags & libc::EV_EOF as u16 != 0 {
        flags |= HANGUP;
        // With EV_EOF, a non-zero fflags holds a pending socket error.
        if raw.fflags != 0 {
            flags |= ERROR;
        }
    }
    if raw_flags & libc::EV_ERROR as u16 != 0 {
        flags |= ERROR | READABLE | WRITABLE;
    }
    Event {
        key: raw.udata as usize,
        flags,
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("kqueue")
            .field("fd", &self.kqueue.as_raw_fd())
            .finish()
    }
}
