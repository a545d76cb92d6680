//! What braid-hyper's test files share: their result type and a loop that fails a test
//! instead of hanging it.

use std::error::Error;
use std::time::Duration;

pub type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Long enough never to be reached on a loaded machine: it only turns a hang into a failure.
pub const HANG: Duration = Duration::from_secs(120);

/// Runs `test` on a fresh loop, failing instead of hanging.
pub fn run(test: impl std::future::Future<Output = Result>) -> Result {
    braid_executor::run(async {
        braid_executor::timeout(HANG, test)
            .await
            .map_err(|_| "the test hung")?
    })
}
