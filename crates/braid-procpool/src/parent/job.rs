//! A unit of work as the supervisor sees it: an encoded message and where its outcome goes.

use std::sync::Arc;
use std::time::Duration;

use crate::parent::error::TaskError;
use crate::protocol::Outcomes;

/// Receives the outcome of one task message (a task, or a chunk of a map).
pub(crate) trait Sink: Send + Sync {
    /// Claims the work for a worker; `false` when it was cancelled while queued.
    fn start(&self) -> bool;
    /// Hands over the worker's per-item outcomes. Called at most once.
    fn deliver(&self, outcomes: Outcomes<'_>);
    /// Ends the work without a result from the worker. Called at most once.
    fn fail(&self, error: TaskError);
}

/// A task message waiting for, or held by, a worker.
pub(crate) struct Job {
    /// The complete `TASK` frame.
    pub(crate) message: Vec<u8>,
    /// How long a worker may run it before being killed.
    pub(crate) timeout: Option<Duration>,
    pub(crate) sink: Settle,
    /// Already claimed by [`Sink::start`]: a job given back by a worker that died before it
    /// could start it.
    pub(crate) claimed: bool,
}

/// The one right to settle a job. Dropping it unsettled settles the job with
/// [`TaskError::ShutDown`], so that whatever path a job takes (even a supervisor that
/// panicked), no handle waits forever.
pub(crate) struct Settle(Option<Arc<dyn Sink>>);

impl Settle {
    pub(crate) fn new(sink: Arc<dyn Sink>) -> Settle {
        Settle(Some(sink))
    }

    pub(crate) fn start(&self) -> bool {
        self.0.as_ref().is_some_and(|sink| sink.start())
    }

    pub(crate) fn deliver(mut self, outcomes: Outcomes<'_>) {
        if let Some(sink) = self.0.take() {
            sink.deliver(outcomes);
        }
    }

    pub(crate) fn fail(mut self, error: TaskError) {
        if let Some(sink) = self.0.take() {
            sink.fail(error);
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(sink) = self.0.take() {
            sink.fail(TaskError::ShutDown);
        }
    }
}
