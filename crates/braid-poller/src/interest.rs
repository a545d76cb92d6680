use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// What readiness to watch a descriptor for: [`READABLE`](Interest::READABLE),
/// [`WRITABLE`](Interest::WRITABLE), or both.
///
/// Combine them with `|`:
///
/// ```
/// use braid_poller::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert_eq!(both, Interest::BOTH);
/// assert!(both.is_readable() && both.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

const READ: u8 = 0b01;
const WRITE: u8 = 0b10;

impl Interest {
    /// Wake when a read would not block (data, end of file, or an error is waiting).
    pub const READABLE: Interest = Interest(READ);
    /// Wake when a write would not block (buffer space, or an error is waiting).
    pub const WRITABLE: Interest = Interest(WRITE);
    /// Both [`READABLE`](Interest::READABLE) and [`WRITABLE`](Interest::WRITABLE).
    pub const BOTH: Interest = Interest(READ | WRITE);

    /// Whether this interest includes reads.
    pub const fn is_readable(self) -> bool {
        self.0 & READ != 0
    }

    /// Whether this interest includes writes.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITE != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}

/// How a registered descriptor reports readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Report one event, then disarm the descriptor until [`Poller::modify`](crate::Poller::modify)
    /// re-arms it.
    Oneshot,
    /// Report an event on every `wait` for as long as the descriptor is ready.
    Level,
    /// Report an event each time the descriptor becomes ready anew; drain it to
    /// `WouldBlock` after each event.
    Edge,
}
