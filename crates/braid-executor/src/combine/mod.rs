//! Waiting on many futures or tasks at once: [`gather`], [`as_completed`], [`wait`] and
//! [`TaskGroup`].

mod as_completed;
mod gather;
mod task_group;
mod wait;

pub use as_completed::{as_completed, AsCompleted};
pub use gather::gather;
pub use task_group::{TaskGroup, TaskGroupError};
pub use wait::{wait, ReturnWhen};
