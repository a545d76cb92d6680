//! Waiting on many futures or tasks at once: [`gather`], [`join!`](crate::join!),
//! [`try_join!`](crate::try_join!), [`as_completed`], [`wait`] and [`TaskGroup`].

mod as_completed;
mod gather;
pub(crate) mod join;
mod task_group;
mod wait;

pub use as_completed::{as_completed, AsCompleted};
pub use gather::gather;
pub use task_group::{TaskGroup, TaskGroupError};
pub use wait::{wait, ReturnWhen};
