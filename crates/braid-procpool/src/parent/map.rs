//! [`Map`]: the lazy iterator behind `map` and `imap_unordered`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::parent::error::TaskError;
use crate::parent::handle::decode_outcome;
use crate::parent::job::{Job, Settle, Sink};
use crate::parent::shared::Shared;
use crate::protocol::function::FnRef;
use crate::protocol::{Outcomes, TaskMessage};
use braid_sys::fd;

/// A chunk's results, tagged with the chunk's index.
type ChunkResults<R> = (u64, Vec<Result<R, TaskError>>);

/// One chunk of a map's input, encoded.
struct Chunk {
    /// `None` when no item of the chunk encoded.
    message: Option<TaskMessage>,
    len: u32,
    /// The items that failed to encode: position in the chunk and why.
    holes: Vec<(u32, String)>,
}

/// Pulls items from the caller's iterator and encodes them into chunk messages.
trait ChunkSource: Send {
    fn next_chunk(&mut self) -> Option<Chunk>;
}

struct Chunker<I> {
    items: I,
    /// The function, or why it cannot be sent: then every item fails with that.
    f: Result<FnRef, String>,
    chunksize: usize,
    /// The encoded size of the last chunk, to size the next one's buffer in one go.
    last_len: usize,
    /// The largest body a chunk's message may grow to.
    frame_limit: usize,
}

/// Where task pipes are packet pipes, a chunk is also cut before its message outgrows a
/// packet: a worker can then be sent several chunks at once, and any it has not started
/// can be taken back for an idle worker. A message that outgrows a packet goes only to an
/// idle worker, alone.
const CHUNK_BYTES: usize = if fd::HAS_PACKET_PIPES {
    fd::PACKET_MAX
} else {
    usize::MAX
};

impl<I, A> ChunkSource for Chunker<I>
where
    I: Iterator<Item = A> + Send,
    A: Serialize,
{
    fn next_chunk(&mut self) -> Option<Chunk> {
        let f = self.f.as_ref().map_or(
            FnRef {
                function: 0,
                trampoline: 0,
            },
            |f| *f,
        );
        let mut message = TaskMessage::new(f, self.last_len).limit(self.frame_limit);
        let mut holes = Vec::new();
        let mut len = 0u32;
        let mut last_item = 0;
        for item in self.items.by_ref() {
            let before = message.encoded_len();
            if let Err(e) = &self.f {
                holes.push((len, e.clone()));
            } else if let Err(e) = message.push(&item) {
                holes.push((
                    len,
                    format!(
                        "the argument ({}) did not encode: {e}",
                        std::any::type_name::<A>()
                    ),
                ));
            }
            len += 1;
            if len as usize == self.chunksize {
                break;
            }
            // Stop while one more item like the last still fits a packet.
            last_item = last_item.max(message.encoded_len() - before);
            if message.encoded_len() + last_item > CHUNK_BYTES {
                break;
            }
        }
        if len == 0 {
            return None;
        }
        self.last_len = message.encoded_len();
        let message = (message.items() > 0).then_some(message);
        Some(Chunk {
            message,
            len,
            holes,
        })
    }
}

/// The outcome of one chunk, sent back to its [`Map`].
struct ChunkSink<R> {
    index: u64,
    len: u32,
    holes: Mutex<Vec<(u32, String)>>,
    results: Sender<ChunkResults<R>>,
}

impl<R> ChunkSink<R> {
    /// Fills the chunk's results, taking the encode failures from their positions and every
    /// other item from `next`.
    fn finish(&self, mut next: impl FnMut() -> Result<R, TaskError>) {
        let holes = std::mem::take(&mut *self.holes.lock());
        let mut holes = holes.into_iter().peekable();
        let mut out = Vec::with_capacity(self.len as usize);
        for position in 0..self.len {
            match holes.next_if(|(at, _)| *at == position) {
                Some((_, message)) => out.push(Err(TaskError::Encode(message))),
                None => out.push(next()),
            }
        }
        // The receiving map may have been dropped; then nobody wants the results.
        let _ = self.results.send((self.index, out));
    }
}

impl<R: DeserializeOwned + Send> Sink for ChunkSink<R> {
    fn start(&self) -> bool {
        true
    }

    fn deliver(&self, mut outcomes: Outcomes<'_>) {
        self.finish(|| match outcomes.next() {
            Some(outcome) => decode_outcome(outcome),
            None => Err(TaskError::Decode(
                "the worker sent fewer results than items".into(),
            )),
        });
    }

    fn fail(&self, error: TaskError) {
        self.finish(|| Err(error.clone()));
    }
}

/// The results of [`ProcessPool::map`](crate::ProcessPool::map) (input order) or
/// [`ProcessPool::imap_unordered`](crate::ProcessPool::imap_unordered) (completion order).
///
/// Lazy: items are read, encoded and sent as the iterator advances, a bounded number of
/// chunks ahead of the consumer. Each item yields its own `Result`. Dropping a `Map` stops
/// sending new chunks; chunks already sent still run.
///
/// # Dropping it unread
///
/// Python's `Executor.map` submits every item before it returns, so a call whose results
/// nobody reads still runs them all. A `Map` sends nothing until it is first advanced, so
/// dropped unread it runs nothing at all. That is a compile-time warning:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn report(x: u32) {
///     println!("{x}");
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(1)?;
///     pool.map(report, 0..10, 5);
///     Ok(())
/// }
/// ```
///
/// To run a function for its effects, drain the iterator:
///
/// ```
/// #![deny(unused_must_use)]
/// fn report(x: u32) {
///     println!("{x}");
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(1)?;
///     pool.map(report, 0..10, 5).for_each(Result::unwrap);
///     Ok(())
/// }
/// ```
#[must_use = "a Map is lazy: it sends nothing until it is first advanced, so dropped unread it \
              runs nothing; iterate or collect it"]
pub struct Map<R> {
    shared: Arc<Shared>,
    source: Option<Box<dyn ChunkSource>>,
    ordered: bool,
    chunk_timeout: Option<std::time::Duration>,
    sent: u64,
    next_to_yield: u64,
    in_flight: usize,
    max_in_flight: usize,
    early: BTreeMap<u64, Vec<Result<R, TaskError>>>,
    current: std::vec::IntoIter<Result<R, TaskError>>,
    results_tx: Sender<ChunkResults<R>>,
    results_rx: Receiver<ChunkResults<R>>,
}

impl<R> Map<R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    pub(crate) fn new<A, I>(
        shared: Arc<Shared>,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
        ordered: bool,
        frame_limit: usize,
    ) -> Map<R>
    where
        A: Serialize + DeserializeOwned,
        I: Iterator<Item = A> + Send + 'static,
    {
        let chunksize = chunksize.max(1);
        let (results_tx, results_rx) = crossbeam_channel::unbounded();
        let chunk_timeout = shared
            .task_timeout
            .map(|t| t.saturating_mul(chunksize.min(u32::MAX as usize) as u32));
        // Enough chunks in flight to keep every worker busy while the consumer catches up.
        let max_in_flight = (shared.workers * 8).max(16);
        Map {
            shared,
            source: Some(Box::new(Chunker {
                items,
                f: FnRef::new(f),
                chunksize,
                last_len: 64,
                frame_limit,
            })),
            ordered,
            chunk_timeout,
            sent: 0,
            next_to_yield: 0,
            in_flight: 0,
            max_in_flight,
            early: BTreeMap::new(),
            current: Vec::new().into_iter(),
            results_tx,
            results_rx,
        }
    }

    fn send_chunks(&mut self) {
        while self.in_flight < self.max_in_flight {
            let Some(source) = self.source.as_mut() else {
                return;
            };
            let Some(Chunk {
                message,
                len,
                holes,
            }) = source.next_chunk()
            else {
                self.source = None;
                return;
            };
            let sink = Arc::new(ChunkSink {
                index: self.sent,
                len,
                holes: Mutex::new(holes),
                results: self.results_tx.clone(),
            });
            self.sent += 1;
            self.in_flight += 1;
            match message {
                Some(message) => self.shared.push(Job {
                    message: message.finish(),
                    timeout: self.chunk_timeout,
                    sink: Settle::new(sink),
                    claimed: false,
                }),
                // Nothing to run: every item failed to encode, and `fail` fills in each one's
                // own encode error.
                None => sink.fail(TaskError::ShutDown),
            }
        }
    }
}

impl<R> Iterator for Map<R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.send_chunks();
            if self.ordered {
                if let Some(chunk) = self.early.remove(&self.next_to_yield) {
                    self.next_to_yield += 1;
                    self.current = chunk.into_iter();
                    continue;
                }
            }
            if self.in_flight == 0 {
                return None;
            }
            // The supervisor completes every job it accepted, and this map holds a sender,
            // so the channel neither closes nor stays silent for good.
            let (index, chunk) = self.results_rx.recv().ok()?;
            self.in_flight -= 1;
            if !self.ordered || index == self.next_to_yield {
                self.next_to_yield += u64::from(self.ordered);
                self.current = chunk.into_iter();
            } else {
                self.early.insert(index, chunk);
            }
        }
    }
}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("ordered", &self.ordered)
            .field("chunks_sent", &self.sent)
            .field("chunks_in_flight", &self.in_flight)
            .field("exhausted", &self.source.is_none())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn double(x: u64) -> u64 {
        x * 2
    }

    fn chunks(items: std::ops::Range<u64>, chunksize: usize) -> Vec<Chunk> {
        let mut chunker = Chunker {
            items,
            f: FnRef::new(double),
            chunksize,
            last_len: 64,
            frame_limit: crate::protocol::MAX_FRAME,
        };
        std::iter::from_fn(|| chunker.next_chunk()).collect()
    }

    #[test]
    fn chunks_keep_their_size_and_fit_a_packet_where_pipes_have_packets() {
        let small = chunks(0..100, 7);
        assert_eq!(small.len(), 15);
        assert!(small[..14].iter().all(|c| c.len == 7));
        assert_eq!(small[14].len, 2);

        // Items of about 4 bytes each: 1,000 of them outgrow a 4 KiB packet.
        let big = chunks(1 << 20..(1 << 20) + 10_000, 1_000);
        let items: u32 = big.iter().map(|c| c.len).sum();
        assert_eq!(items, 10_000, "every item is in a chunk");
        for (at, chunk) in big.iter().enumerate() {
            let bytes = chunk.message.as_ref().unwrap().encoded_len();
            let last = at == big.len() - 1;
            if fd::HAS_PACKET_PIPES {
                assert!(bytes <= fd::PACKET_MAX, "a chunk of {bytes} bytes");
                assert!(
                    last || chunk.len > 500,
                    "a chunk cut too short: {}",
                    chunk.len
                );
            } else {
                assert_eq!(chunk.len, 1_000);
            }
            let _ = last;
        }
    }
}
