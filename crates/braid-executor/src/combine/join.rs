//! [`join!`](crate::join!) and [`try_join!`](crate::try_join!): futures of different types,
//! awaited together on the current task.
//!
//! Each macro binds every future, pinned, to a variable named `future` in a block of its
//! own, one block inside the next; the identifier made by each step of the recursion is a
//! different variable (macro hygiene), and the innermost block polls them all by those
//! identifiers. So no future is boxed, and no `unsafe` is needed to pin them.

/// Awaits all the futures concurrently on the current task and gives a tuple of their
/// outputs, in the order they were written (Python's `await asyncio.gather(a(), b())`).
///
/// Use it inside `async` code: `join!(a, b, c)` stands for an `.await`. Unlike
/// [`gather`](crate::gather), which takes a collection of futures of one type and gives a
/// `Vec`, the futures may have different output types. Nothing is spawned: the futures run
/// inside the calling task, interleaved at their await points, so they may borrow from the
/// caller and need not be `Send` or `'static`. Each time the task is woken, every future
/// that has not finished yet is polled once. To run them as separate tasks, pass
/// [`Task`](crate::Task)s: their outputs are then `Result<T, JoinError>`s.
///
/// The futures are evaluated (not polled) in the order written, before any of them is
/// polled; a trailing comma is allowed. `join!()` is `()`, and `join!(a)` is a one-element
/// tuple. The macro takes one level of the compiler's macro recursion limit per future,
/// so a crate with the default limit can join up to about 120 futures at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{join, sleep};
///
/// async fn fetch_user(id: u32) -> String {
///     sleep(Duration::from_millis(2)).await;
///     format!("user {id}")
/// }
///
/// async fn count_posts() -> usize {
///     sleep(Duration::from_millis(1)).await;
///     3
/// }
///
/// braid_executor::run(async {
///     // Python: user, posts = await asyncio.gather(fetch_user(7), count_posts())
///     let (user, posts) = join!(fetch_user(7), count_posts());
///     assert_eq!(user, "user 7");
///     assert_eq!(posts, 3);
/// });
/// ```
#[macro_export]
macro_rules! join {
    () => {
        ()
    };
    ($($future:expr),+ $(,)?) => {
        $crate::__join_step!(join [] $($future,)+)
    };
}

/// Awaits futures whose outputs are `Result<_, E>`, with one error type `E`, and gives
/// `Ok` with a tuple of their values, or the first error as soon as one happens (Python's
/// `asyncio.gather` without `return_exceptions`).
///
/// Use it inside `async` code, like [`join!`](crate::join!): the futures run concurrently
/// inside the calling task, and each time it is woken every future that has not finished
/// is polled once. When one of them gives `Err`, `try_join!` returns that error at once,
/// and the other futures are dropped (at their await points, running their destructors)
/// before the caller sees it. `try_join!()` is `Ok(())`.
///
/// A [`Task`](crate::Task) given to `try_join!` and dropped this way is **detached, not
/// cancelled**: it runs on to its end, as the other tasks of a failed `asyncio.gather` do.
/// To cancel the others on the first failure, spawn them in a
/// [`TaskGroup`](crate::TaskGroup). A `Task<T>`'s output is `Result<T, JoinError>`, so
/// tasks can be joined as they are, with [`JoinError`](crate::JoinError) as the error type;
/// for a task that returns `Result<T, E>` with `E: From<JoinError>` (such as
/// `std::io::Error`), [`Task::flatten`](crate::Task::flatten) gives a future of
/// `Result<T, E>`, so its panic becomes an `E` too.
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use braid_executor::{sleep, spawn, try_join};
///
/// async fn read_config() -> io::Result<String> {
///     Ok("debug = true".to_string())
/// }
///
/// async fn open_port() -> io::Result<u16> {
///     Err(io::Error::new(io::ErrorKind::AddrInUse, "port 8080 is taken"))
/// }
///
/// async fn warm_cache() -> io::Result<()> {
///     sleep(Duration::from_secs(3600)).await; // dropped when open_port fails
///     Ok(())
/// }
///
/// braid_executor::run(async {
///     // Python: config, port, _ = await asyncio.gather(read_config(), open_port(), warm_cache())
///     let error = try_join!(read_config(), open_port(), warm_cache()).unwrap_err();
///     assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
///
///     // Tasks, whose outputs are Result<T, JoinError>:
///     let (name, size) = try_join!(spawn(async { "log" }), spawn(async { 4096 })).unwrap();
///     assert_eq!((name, size), ("log", 4096));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    () => {
        ::core::result::Result::Ok(())
    };
    ($($future:expr),+ $(,)?) => {
        $crate::__join_step!(try_join [] $($future,)+)
    };
}

/// One step of [`join!`](crate::join!) and [`try_join!`](crate::try_join!): pins the next
/// future in a block of its own, or, with none left, polls those bound so far.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_step {
    ($kind:ident [$($bound:ident)*] $future:expr, $($rest:expr,)*) => {{
        let mut future = $crate::__private::pin!($crate::__private::maybe_done($future));
        $crate::__join_step!($kind [$($bound)* future] $($rest,)*)
    }};
    (join [$($bound:ident)+]) => {
        $crate::__private::poll_fn(|cx| {
            let mut done = true;
            $( done &= $crate::__private::poll_one($bound.as_mut(), cx); )+
            if !done {
                return $crate::__private::Poll::Pending;
            }
            $crate::__private::Poll::Ready(($( $crate::__private::take($bound.as_mut()), )+))
        })
        .await
    };
    (try_join [$($bound:ident)+]) => {
        $crate::__private::poll_fn(|cx| {
            let mut done = true;
            $(
                match $crate::__private::try_poll_one($bound.as_mut(), cx) {
                    ::core::result::Result::Ok(finished) => done &= finished,
                    ::core::result::Result::Err(error) => {
                        return $crate::__private::Poll::Ready(::core::result::Result::Err(error));
                    }
                }
            )+
            if !done {
                return $crate::__private::Poll::Pending;
            }
            $crate::__private::Poll::Ready(::core::result::Result::Ok((
                $( $crate::__private::take_ok($bound.as_mut()), )+
            )))
        })
        .await
    };
}

/// What the expansions of `join!` and `try_join!` name through `$crate`; not an API.
#[doc(hidden)]
pub mod private {
    pub use core::future::poll_fn;
    pub use core::pin::pin;
    pub use core::task::Poll;
    pub use futures::future::maybe_done;

    use core::future::Future;
    use core::pin::Pin;
    use core::task::Context;

    use futures::future::MaybeDone;

    /// Polls `future` unless it has finished; true once it has.
    pub fn poll_one<F: Future>(future: Pin<&mut MaybeDone<F>>, cx: &mut Context<'_>) -> bool {
        future.poll(cx).is_ready()
    }

    /// Polls `future` unless it has finished: `Ok(true)` once it has given a value,
    /// `Ok(false)` while it runs, and its error, taken out, if it failed.
    pub fn try_poll_one<F, T, E>(
        mut future: Pin<&mut MaybeDone<F>>,
        cx: &mut Context<'_>,
    ) -> Result<bool, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if future.as_mut().poll(cx).is_pending() {
            return Ok(false);
        }
        match future.as_mut().output_mut() {
            Some(Err(_)) => match future.take_output() {
                Some(Err(error)) => Err(error),
                _ => unreachable!("the output was just seen to be an error"),
            },
            _ => Ok(true),
        }
    }

    /// The output of a finished future.
    pub fn take<F: Future>(future: Pin<&mut MaybeDone<F>>) -> F::Output {
        future
            .take_output()
            .expect("join! takes each output once, after every future has finished")
    }

    /// The value of a future that finished with `Ok`.
    pub fn take_ok<F, T, E>(future: Pin<&mut MaybeDone<F>>) -> T
    where
        F: Future<Output = Result<T, E>>,
    {
        match future.take_output() {
            Some(Ok(value)) => value,
            _ => unreachable!("try_join! takes each value once, after every future gave Ok"),
        }
    }
}
