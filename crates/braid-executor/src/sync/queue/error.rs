//! The errors of [`Queue`](super::Queue).

use std::error::Error;
use std::fmt;

/// Why [`Queue::try_put`](super::Queue::try_put) could not put an item; the item comes back
/// inside.
#[derive(PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue holds `maxsize` items, or earlier `put`s are still waiting for room.
    Full(T),
    /// The queue was closed with [`Queue::close`](super::Queue::close).
    Closed(T),
}

impl<T> TryPutError<T> {
    /// Gives back the item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::Closed(item) => item,
        }
    }

    /// Whether the queue was full (retrying later may succeed).
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the queue was closed (retrying never succeeds).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str(
                "the queue is full; await `put` to wait for room, or retry after a `get`",
            ),
            Self::Closed(_) => f.write_str("the queue is closed and accepts no more items"),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// [`Queue::put`](super::Queue::put) failed because the queue was closed; the item comes back
/// inside.
#[derive(PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// Gives back the item that was not put.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue was closed before the item could be put; the error returns it")
    }
}

impl<T> Error for PutError<T> {}

/// Why [`Queue::try_get`](super::Queue::try_get) returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryGetError {
    /// No item is ready now; one may be put later.
    Empty,
    /// The queue was closed and every item has been taken; none will come.
    Closed,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "the queue is empty; await `get` to wait for an item, or retry after a `put`",
            ),
            Self::Closed => f.write_str("the queue is closed and has no items left"),
        }
    }
}

impl Error for TryGetError {}

/// [`Queue::get`](super::Queue::get) found the queue closed and drained: no item will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetError;

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed and has no items left; stop consuming")
    }
}

impl Error for GetError {}
