//! Scoped tasks that may borrow from the stack of the thread that opened the scope.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::job::HeapJob;
use crate::latch::{CoreLatch, ParkLatch};
use crate::pool::{Shared, ThreadPool};
use crate::sleep::Sleep;
use crate::sync::{lock, Mutex};
use crate::worker::WorkerThread;

/// A scope in which to spawn tasks that borrow data living outside it.
///
/// Made by [`ThreadPool::scope`], which returns only once every task spawned in it finished,
/// so the tasks may borrow anything that outlives the `scope` call.
///
/// A spawned task cannot smuggle out a borrow of something that dies inside the scope:
///
/// ```compile_fail,E0597
/// use braid_threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(2).unwrap();
/// pool.scope(|s| {
///     let local = String::from("dies at the end of this closure");
///     let borrowed = &local;
///     s.spawn(move |_| println!("{borrowed}"));
/// });
/// ```
///
/// Nor can the scope itself be carried out of the closure:
///
/// ```compile_fail
/// use braid_threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(2).unwrap();
/// let mut escaped = None;
/// pool.scope(|s| escaped = Some(s));
/// escaped.unwrap().spawn(|_| ());
/// ```
pub struct Scope<'scope> {
    shared: Arc<Shared>,
    /// Tasks not finished yet, plus one for the scope's body until it returns.
    unfinished: AtomicUsize,
    /// The first panic of a spawned task.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    owner: Owner,
    /// Invariant in `'scope`, so the compiler can neither shrink nor grow it to let a borrow
    /// escape.
    marker: PhantomData<fn(&'scope ()) -> &'scope ()>,
}

/// Who waits for the scope's tasks, and so how the last one signals.
enum Owner {
    /// A worker of the pool, which runs other jobs while it waits.
    Worker(CoreLatch),
    /// A thread outside the pool, which blocks.
    Thread(ParkLatch),
    /// The pool was shut down: spawned tasks run on the spot.
    Inline,
}

/// A raw pointer to a scope that a job may carry to another worker.
struct ScopePtr<'scope>(*const Scope<'scope>);

// SAFETY: `Scope` is `Sync`, and the scope outlives every job holding the pointer because it
// waits for all of them.
unsafe impl Send for ScopePtr<'_> {}

impl ThreadPool {
    /// Runs `body` with a [`Scope`] in which it can spawn tasks borrowing from the caller's
    /// stack, and returns once `body` and every spawned task finished.
    ///
    /// `body` runs on the calling thread. If that is a worker of this pool, it runs other jobs
    /// while waiting at the end of the scope. After [`ThreadPool::shutdown`], spawned tasks run
    /// on the spot, on the thread that spawns them.
    ///
    /// # Panics
    ///
    /// If `body` or a spawned task panics, `scope` still waits for all tasks, then resumes the
    /// panic (the body's first, else the first task's).
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let words = vec!["alpha", "beta", "gamma"];
    /// let total = AtomicU64::new(0);
    /// pool.scope(|s| {
    ///     for word in &words {
    ///         let total = &total;
    ///         s.spawn(move |_| {
    ///             total.fetch_add(word.len() as u64, Ordering::Relaxed);
    ///         });
    ///     }
    /// });
    /// assert_eq!(total.into_inner(), 14);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn scope<'scope, F, R>(&self, body: F) -> R
    where
        F: FnOnce(&Scope<'scope>) -> R,
    {
        let worker = WorkerThread::current_in(&self.shared);
        let mut entered = false;
        let owner = if worker.is_some() {
            Owner::Worker(CoreLatch::new())
        } else if self.shared.enter() {
            entered = true;
            Owner::Thread(ParkLatch::new())
        } else {
            Owner::Inline
        };
        let scope = Scope {
            shared: self.shared.clone(),
            unfinished: AtomicUsize::new(1),
            panic: Mutex::new(None),
            owner,
            marker: PhantomData,
        };

        let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
        // SAFETY: `scope` lives in this frame until after the wait below.
        unsafe { Scope::finish_one(&scope, &self.shared.sleep) };
        match (&scope.owner, worker) {
            (Owner::Worker(latch), Some(worker)) => {
                worker.wait_until(latch, None);
            }
            (Owner::Thread(latch), _) => latch.wait(),
            _ => {}
        }
        if entered {
            self.shared.leave();
        }

        let task_panic = lock(&scope.panic).take();
        match result {
            Err(payload) => panic::resume_unwind(payload),
            Ok(_) if task_panic.is_some() => panic::resume_unwind(task_panic.unwrap()),
            Ok(value) => value,
        }
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns `task` into the pool. It may borrow anything that outlives the scope, and gets
    /// the scope to spawn more tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    /// use std::sync::Mutex;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let found = Mutex::new(Vec::new());
    /// pool.scope(|s| {
    ///     s.spawn(|s| {
    ///         found.lock().unwrap().push("parent");
    ///         s.spawn(|_| found.lock().unwrap().push("child"));
    ///     });
    /// });
    /// let mut found = found.into_inner().unwrap();
    /// found.sort();
    /// assert_eq!(found, ["child", "parent"]);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn spawn<F>(&self, task: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        if let Owner::Inline = self.owner {
            self.run_task(task);
            return;
        }
        // The spawner holds a count of its own (the body's, or its task's) until it returns,
        // so the count cannot reach zero before this increment is seen.
        self.unfinished.fetch_add(1, Ordering::Relaxed);
        let scope = ScopePtr(self);
        let job = HeapJob::new(move |worker: &WorkerThread| {
            let scope = scope;
            // SAFETY: the scope waits for this job before it ends.
            let this = unsafe { &*scope.0 };
            this.run_task(task);
            // SAFETY: as above; `finish_one` reads nothing after the last count drops.
            unsafe { Scope::finish_one(scope.0, &worker.shared.sleep) };
        });
        // SAFETY: the job borrows only what `'scope` covers, and the scope waits for it.
        let job = unsafe { job.into_job_ref() };
        match WorkerThread::current_in(&self.shared) {
            Some(worker) => worker.push_local(job),
            None => self.shared.inject(job),
        }
    }

    fn run_task<F>(&self, task: F)
    where
        F: FnOnce(&Scope<'scope>),
    {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| task(self))) {
            let losing = {
                let mut first = lock(&self.panic);
                match *first {
                    None => {
                        *first = Some(payload);
                        None
                    }
                    Some(_) => Some(payload),
                }
            };
            // Only the first panic is kept. A later payload is dropped here, outside the lock
            // and inside `catch_unwind`: its destructor may panic too, and nothing may unwind
            // out of a job, since the worker running it may be waiting with frames that other
            // workers still write into (a `join` whose second half was stolen).
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(losing))) {
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(again)));
            }
        }
    }

    /// Drops one count; the last one releases the owner.
    ///
    /// # Safety
    ///
    /// `this` must point to a live scope; it may be freed as soon as the last count drops, so
    /// nothing is read through it afterwards.
    unsafe fn finish_one(this: *const Scope<'scope>, sleep: &Sleep) {
        // SAFETY: the caller holds a count, so the scope is live until it drops.
        let scope = unsafe { &*this };
        if scope.unfinished.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        match &scope.owner {
            // SAFETY: the owner waits for this latch, so it is live until set.
            Owner::Worker(latch) => unsafe { CoreLatch::set(latch, sleep) },
            // SAFETY: as above.
            Owner::Thread(latch) => unsafe { ParkLatch::set(latch) },
            Owner::Inline => {}
        }
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("unfinished", &self.unfinished.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
