use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::{Header, JoinError, DONE, QUEUED, RUNNING};

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

fn finish_with<T>(header: &Header<T>, value: T) {
    header.transition(QUEUED, RUNNING).unwrap();
    // SAFETY: the stage is RUNNING and this test is the only thread.
    unsafe { *header.output.get() = super::Output::Value(value) };
    header.finish_running();
}

#[test]
fn a_registered_waker_is_woken_once_when_the_task_finishes() {
    let header = Header::new(QUEUED);
    let (count, waker) = counting_waker();
    assert!(!header.register(&waker));
    assert!(!header.register(&waker), "registering again is harmless");
    finish_with(&header, 5);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(header.is_finished());
    assert!(
        header.register(&waker),
        "a finished task reports it at once"
    );
    assert_eq!(header.take_output().unwrap(), 5);
}

#[test]
fn the_latest_waker_wins() {
    let header = Header::new(QUEUED);
    let (first, first_waker) = counting_waker();
    let (second, second_waker) = counting_waker();
    assert!(!header.register(&first_waker));
    assert!(!header.register(&second_waker));
    finish_with(&header, ());
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_only_succeeds_while_queued_and_wakes_the_waiter() {
    let header = Header::<u8>::new(QUEUED);
    let (count, waker) = counting_waker();
    header.register(&waker);
    assert!(header.cancel());
    assert!(!header.cancel());
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(header.take_output().unwrap_err().is_cancelled());

    let running = Header::<u8>::new(QUEUED);
    running.transition(QUEUED, RUNNING).unwrap();
    assert!(!running.cancel());
    assert!(!running.is_finished());
}

#[test]
fn a_task_cannot_start_after_it_was_cancelled() {
    let header = Header::<u8>::new(QUEUED);
    assert!(header.cancel());
    assert!(header.transition(QUEUED, RUNNING).is_err());
    assert!(header.state.load(Ordering::SeqCst) & super::STAGE > DONE);
}

#[test]
#[should_panic(expected = "already taken")]
fn taking_the_output_twice_panics() {
    let header = Header::new(QUEUED);
    finish_with(&header, 1);
    let _ = header.take_output();
    let _ = header.take_output();
}

#[test]
fn join_error_messages_say_what_happened() {
    assert_eq!(
        JoinError::cancelled().to_string(),
        "the task was cancelled before it started"
    );
    assert!(JoinError::shut_down()
        .to_string()
        .contains("submit work before calling shutdown"));
    let error = JoinError::panic(Box::new(String::from("disk full")));
    assert_eq!(error.to_string(), "the task panicked: disk full");
    assert_eq!(format!("{error:?}"), "JoinError::Panic(\"disk full\")");
    let error = error.try_into_panic().unwrap();
    assert_eq!(error.downcast_ref::<String>().unwrap(), "disk full");
    let not_a_panic = JoinError::cancelled().try_into_panic().unwrap_err();
    assert!(not_a_panic.is_cancelled());
}

#[test]
fn join_error_fits_in_a_boxed_send_sync_error() {
    let boxed: Box<dyn std::error::Error + Send + Sync> =
        Box::new(JoinError::panic(Box::new(3_u8)));
    assert_eq!(boxed.to_string(), "the task panicked");
}
