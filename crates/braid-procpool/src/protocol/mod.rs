//! What the pool's processes say to each other, encoded and decoded here only.
//!
//! - this file: the messages on a worker's two pipes;
//! - [`fork_server`]: the fork server's requests and reports;
//! - [`role`]: the environment variable that tells a process started again what to become;
//! - [`auth`]: the handshake that admits a worker connecting over TCP, after which the one
//!   connection carries both directions' frames exactly as the two pipes do;
//! - [`function`]: how a function is named so that another process can call it.
//!
//! # A worker's pipes
//!
//! Every message is a frame: a little-endian `u32` body length, then the body, whose first
//! byte is a tag. The parent sends:
//!
//! - `INIT`: `i64` initializer offset, or 0 for none, `u64` frame limit (the largest body the
//!   worker may send), `u8` panic output (0: prefixed, 1: silent), `u32` heartbeat interval
//!   in milliseconds (0: none). Always the first message.
//! - `TASK`: `u64` ticket, `i64` function offset, `i64` trampoline offset, `u32` item count,
//!   then per item a `u32` length and the encoded argument. A single task is a chunk of one
//!   item. The ticket, stamped as the message is sent ([`stamp_ticket`]), tells this message
//!   from every other the pool sent: a result says which task it answers, and a message the
//!   parent reads back out of a worker's pipe says which job it was.
//!
//! The worker answers:
//!
//! - `READY`: `u32` pid, `i64` build fingerprint, then the UTF-8 name of the worker's host
//!   (its Slurm node's name under Slurm); after `INIT` succeeded.
//! - `INIT_FAILED`: a UTF-8 message; the worker exits after it.
//! - `ALIVE`: nothing; a worker on a connection sends one every heartbeat interval, from a
//!   thread of its own, between or in the middle of tasks (never inside another frame).
//! - `RESULTS`: the `u64` ticket of the task it answers, `u32` item count, then per item a
//!   status byte, a `u32` length and the bytes (the encoded result, or a UTF-8 message for a
//!   failure), in the order of the task's items.
//!
//! A worker answers its task messages one at a time, in the order it took them.

pub(crate) mod auth;
pub(crate) mod fork_server;
pub(crate) mod function;
pub(crate) mod role;

use serde::Serialize;

use self::function::FnRef;
use crate::parent::settings::PanicOutput;

const INIT: u8 = 1;
const TASK: u8 = 2;
const READY: u8 = 0x11;
const INIT_FAILED: u8 = 0x12;
const RESULTS: u8 = 0x13;
const ALIVE: u8 = 0x14;

/// Item statuses in a `RESULTS` message.
pub(crate) const ITEM_OK: u8 = 0;
pub(crate) const ITEM_PANICKED: u8 = 1;
pub(crate) const ITEM_DECODE_ARGUMENT: u8 = 2;
pub(crate) const ITEM_ENCODE_RESULT: u8 = 3;

/// The largest frame body either side sends or accepts: 2 GiB, well inside the `u32` that
/// frames its length. A value that would make a bigger message fails to encode, on either
/// side, for its own task alone; a length over it on the wire is a corrupted stream.
pub(crate) const MAX_FRAME: usize = 1 << 31;

const TASK_HEADER: usize = 4 + 1 + 8 + 8 + 8 + 4;
/// Where a `TASK` frame's ticket sits.
const TICKET_AT: usize = 4 + 1;

/// Builds a `TASK` frame item by item.
#[derive(Debug)]
pub(crate) struct TaskMessage {
    buf: Vec<u8>,
    items: u32,
    /// The largest body this message may grow to.
    limit: usize,
}

impl TaskMessage {
    pub(crate) fn new(f: FnRef, capacity: usize) -> TaskMessage {
        let mut buf = Vec::with_capacity(TASK_HEADER + capacity);
        buf.extend_from_slice(&[0; 4]);
        buf.push(TASK);
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&f.function.to_le_bytes());
        buf.extend_from_slice(&f.trampoline.to_le_bytes());
        buf.extend_from_slice(&[0; 4]);
        TaskMessage {
            buf,
            items: 0,
            limit: MAX_FRAME,
        }
    }

    /// Lowers the largest body this message may grow to below [`MAX_FRAME`].
    pub(crate) fn limit(mut self, limit: usize) -> TaskMessage {
        self.limit = limit.min(MAX_FRAME);
        self
    }

    /// Appends one encoded argument; on an encoding error, or an argument that would take
    /// the message past its limit, the message is left unchanged.
    pub(crate) fn push<A: Serialize>(&mut self, arg: &A) -> Result<(), String> {
        let mark = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        match postcard::to_io(arg, &mut self.buf).map(drop) {
            Ok(()) if self.buf.len() - 4 > self.limit => {
                let (encoded, body) = (self.buf.len() - mark - 4, self.buf.len() - 4);
                self.buf.truncate(mark);
                Err(too_big("argument", encoded, body, self.limit))
            }
            Ok(()) => {
                let len = (self.buf.len() - mark - 4) as u32;
                self.buf[mark..mark + 4].copy_from_slice(&len.to_le_bytes());
                self.items += 1;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(mark);
                Err(e.to_string())
            }
        }
    }

    pub(crate) fn items(&self) -> u32 {
        self.items
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// The finished frame.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let body = (self.buf.len() - 4) as u32;
        self.buf[0..4].copy_from_slice(&body.to_le_bytes());
        self.buf[TASK_HEADER - 4..TASK_HEADER].copy_from_slice(&self.items.to_le_bytes());
        self.buf
    }
}

/// Writes `ticket` into a finished `TASK` frame.
pub(crate) fn stamp_ticket(frame: &mut [u8], ticket: u64) {
    frame[TICKET_AT..TICKET_AT + 8].copy_from_slice(&ticket.to_le_bytes());
}

/// The ticket of a whole `TASK` frame (length prefix included); `None` for anything else.
pub(crate) fn task_ticket(frame: &[u8]) -> Option<u64> {
    if frame.len() < TASK_HEADER || frame[4] != TASK {
        return None;
    }
    Some(u64::from_le_bytes(
        frame[TICKET_AT..TICKET_AT + 8].try_into().ok()?,
    ))
}

/// Why a value does not fit in a message: it encodes to `encoded` bytes, which make a body
/// of `body` bytes, over `limit`.
fn too_big(what: &str, encoded: usize, body: usize, limit: usize) -> String {
    format!(
        "the {what} encodes to {encoded} bytes, which makes a message of {body} bytes, over \
         the limit of {limit} bytes"
    )
}

/// A frame with the given tag and body.
fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(5 + body.len());
    buf.extend_from_slice(&((body.len() + 1) as u32).to_le_bytes());
    buf.push(tag);
    buf.extend_from_slice(body);
    buf
}

/// What the parent sends a worker, decoded.
#[derive(Debug)]
pub(crate) enum ToWorker<'a> {
    /// Take these settings, run the initializer, then answer `Ready`.
    Init(WorkerSettings),
    /// Run a function on each item.
    Task(TaskBody<'a>),
}

impl ToWorker<'_> {
    /// The `INIT` frame.
    pub(crate) fn init_frame(settings: &WorkerSettings) -> Vec<u8> {
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&settings.initializer.to_le_bytes());
        body.extend_from_slice(&(settings.frame_limit as u64).to_le_bytes());
        body.push(match settings.panic_output {
            PanicOutput::Prefixed => 0,
            PanicOutput::Silent => 1,
        });
        body.extend_from_slice(&settings.heartbeat_ms.to_le_bytes());
        frame(INIT, &body)
    }

    /// Decodes a frame body; `None` for one that is not this protocol.
    pub(crate) fn decode(body: &[u8]) -> Option<ToWorker<'_>> {
        let mut cursor = Cursor::new(body);
        match cursor.u8()? {
            INIT => Some(ToWorker::Init(WorkerSettings {
                initializer: cursor.i64()?,
                frame_limit: (cursor.i64()? as u64).min(MAX_FRAME as u64) as usize,
                panic_output: match cursor.u8()? {
                    0 => PanicOutput::Prefixed,
                    1 => PanicOutput::Silent,
                    _ => return None,
                },
                heartbeat_ms: cursor.u32()?,
            })),
            TASK => Some(ToWorker::Task(TaskBody {
                ticket: cursor.u64()?,
                function: cursor.i64()?,
                trampoline: cursor.i64()?,
                items: cursor.u32()?,
                cursor,
            })),
            _ => None,
        }
    }
}

/// What a worker is told before its first task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WorkerSettings {
    /// The initializer's code offset, 0 for none.
    pub(crate) initializer: i64,
    /// The largest frame body the worker may send, at most [`MAX_FRAME`].
    pub(crate) frame_limit: usize,
    /// What the worker prints when a task panics.
    pub(crate) panic_output: PanicOutput,
    /// How often a worker on a connection says it is alive ([`FromWorker::Alive`]), in
    /// milliseconds; 0 for a worker on pipes, whose death its parent sees directly.
    pub(crate) heartbeat_ms: u32,
}

/// A `TASK` body: the function to run and its encoded arguments.
#[derive(Debug)]
pub(crate) struct TaskBody<'a> {
    pub(crate) ticket: u64,
    pub(crate) function: i64,
    pub(crate) trampoline: i64,
    pub(crate) items: u32,
    cursor: Cursor<'a>,
}

impl<'a> TaskBody<'a> {
    /// The next encoded argument; an empty one past the end of a truncated body, whose
    /// decoding then fails for that item alone.
    pub(crate) fn next_argument(&mut self) -> &'a [u8] {
        self.cursor.bytes().unwrap_or(&[])
    }
}

/// What a worker sends the parent, decoded.
#[derive(Debug)]
pub(crate) enum FromWorker<'a> {
    /// The initializer ran; the worker takes tasks now.
    Ready {
        pid: u32,
        fingerprint: i64,
        /// The worker's host, as it names it; may be empty.
        node: &'a str,
    },
    /// The initializer panicked with this message; the worker exits.
    InitFailed(String),
    /// The outcomes of the oldest task the worker holds.
    Results(Outcomes<'a>),
    /// A heartbeat: the worker's process is running, whatever its task is doing.
    Alive,
}

impl FromWorker<'_> {
    /// The `READY` frame.
    pub(crate) fn ready_frame(pid: u32, fingerprint: i64, node: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(12 + node.len());
        body.extend_from_slice(&pid.to_le_bytes());
        body.extend_from_slice(&fingerprint.to_le_bytes());
        body.extend_from_slice(node.as_bytes());
        frame(READY, &body)
    }

    /// The `ALIVE` frame, a heartbeat.
    pub(crate) fn alive_frame() -> Vec<u8> {
        frame(ALIVE, &[])
    }

    /// The `INIT_FAILED` frame.
    pub(crate) fn init_failed_frame(message: &str) -> Vec<u8> {
        frame(INIT_FAILED, message.as_bytes())
    }

    /// Decodes a frame body.
    ///
    /// # Errors
    ///
    /// What is wrong with a body that is not this protocol, for the supervisor's report.
    pub(crate) fn decode(body: &[u8]) -> Result<FromWorker<'_>, String> {
        let mut cursor = Cursor::new(body);
        match cursor.u8() {
            Some(READY) => match (cursor.u32(), cursor.i64()) {
                (Some(pid), Some(fingerprint)) => Ok(FromWorker::Ready {
                    pid,
                    fingerprint,
                    node: std::str::from_utf8(cursor.rest())
                        .map_err(|_| "the worker sent a host name that is not UTF-8")?,
                }),
                _ => Err("the worker sent a truncated READY message".into()),
            },
            Some(ALIVE) => Ok(FromWorker::Alive),
            Some(INIT_FAILED) => Ok(FromWorker::InitFailed(
                String::from_utf8_lossy(cursor.rest()).into_owned(),
            )),
            Some(RESULTS) => Outcomes::parse(cursor.rest())
                .map(FromWorker::Results)
                .ok_or_else(|| "the worker sent a truncated result".into()),
            Some(tag) => Err(format!(
                "the worker sent a message with the unknown tag {tag:#04x}"
            )),
            None => Err("the worker sent an empty message".into()),
        }
    }
}

/// Writes a `RESULTS` frame into a reused buffer, item by item.
#[derive(Debug)]
pub(crate) struct ResultsFrame<'a> {
    out: &'a mut Vec<u8>,
    /// The largest body the frame may grow to.
    limit: usize,
}

impl<'a> ResultsFrame<'a> {
    /// Starts a frame of `items` outcomes of the task `ticket` in `out`, which is cleared
    /// first; its body may grow to `limit` bytes at most (see [`ResultsFrame::item`]).
    pub(crate) fn begin(
        out: &'a mut Vec<u8>,
        ticket: u64,
        items: u32,
        limit: usize,
    ) -> ResultsFrame<'a> {
        out.clear();
        out.extend_from_slice(&[0; 4]);
        out.push(RESULTS);
        out.extend_from_slice(&ticket.to_le_bytes());
        out.extend_from_slice(&items.to_le_bytes());
        ResultsFrame {
            out,
            limit: limit.min(MAX_FRAME),
        }
    }

    /// Adds one outcome: `encode` appends the encoded result to the buffer it is given, or
    /// returns the failure's status and message, which then replace whatever it appended.
    /// A result that takes the body past the limit becomes an `ITEM_ENCODE_RESULT` failure
    /// that names the sizes, prefixed with `encode`'s note about the value: the type's name.
    pub(crate) fn item(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<&'static str, (u8, String)>,
    ) {
        let status_at = self.out.len();
        self.out.push(ITEM_OK);
        self.out.extend_from_slice(&[0; 4]);
        let start = self.out.len();
        let failure = match encode(self.out) {
            Ok(_) if self.out.len() - 4 <= self.limit => None,
            Ok(type_name) => {
                let (encoded, body) = (self.out.len() - start, self.out.len() - 4);
                let why = too_big("result", encoded, body, self.limit);
                Some((ITEM_ENCODE_RESULT, format!("{type_name}: {why}")))
            }
            Err(failure) => Some(failure),
        };
        if let Some((status, message)) = failure {
            self.out.truncate(start);
            // A message that does not fit either (a huge panic message) is cut short.
            let room = self.limit.saturating_sub(start - 4);
            let mut cut = message.len().min(room);
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.extend_from_slice(&message.as_bytes()[..cut]);
            self.out[status_at] = status;
        }
        let len = (self.out.len() - start) as u32;
        self.out[status_at + 1..start].copy_from_slice(&len.to_le_bytes());
    }

    /// Writes the frame's length; the buffer then holds the whole frame.
    pub(crate) fn finish(self) {
        let body = (self.out.len() - 4) as u32;
        self.out[0..4].copy_from_slice(&body.to_le_bytes());
    }
}

/// Frames that break this protocol, for tests of how the parent copes with a worker that
/// sends one.
pub(crate) mod broken {
    use super::{frame, ResultsFrame, MAX_FRAME};

    /// A message whose tag the protocol does not have.
    pub(crate) fn unknown_tag() -> Vec<u8> {
        frame(0xee, &[])
    }

    /// A frame length no frame may have.
    pub(crate) fn bad_length() -> Vec<u8> {
        u32::MAX.to_le_bytes().to_vec()
    }

    /// A well-formed results message with no items, for a task nobody sent (tickets start
    /// at 1).
    pub(crate) fn unowned_results() -> Vec<u8> {
        let mut out = Vec::new();
        ResultsFrame::begin(&mut out, 0, 0, MAX_FRAME).finish();
        out
    }
}

/// Reads little-endian numbers and length-prefixed slices from a frame body.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { rest: bytes }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// The per-item outcomes of a `RESULTS` body (after the tag), iterable any number of times.
#[derive(Clone, Debug)]
pub(crate) struct Outcomes<'a> {
    ticket: u64,
    count: u32,
    cursor: Cursor<'a>,
}

impl<'a> Outcomes<'a> {
    /// Parses the ticket and the item count; `None` for a body too short to hold them.
    pub(crate) fn parse(body: &'a [u8]) -> Option<Outcomes<'a>> {
        let mut cursor = Cursor::new(body);
        let ticket = cursor.u64()?;
        let count = cursor.u32()?;
        Some(Outcomes {
            ticket,
            count,
            cursor,
        })
    }

    /// The ticket of the task these outcomes answer.
    pub(crate) fn ticket(&self) -> u64 {
        self.ticket
    }

    pub(crate) fn items(&self) -> u32 {
        self.count
    }
}

impl<'a> Iterator for Outcomes<'a> {
    /// `(status, bytes)`; a truncated body ends the iteration early.
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.count == 0 {
            return None;
        }
        self.count -= 1;
        let status = self.cursor.u8()?;
        let bytes = self.cursor.bytes()?;
        Some((status, bytes))
    }
}

/// Splits complete frames off the front of a byte buffer.
///
/// Returns the body of the first complete frame and the number of bytes it used, `Ok(None)`
/// when more bytes are needed, and `Err` for a length no frame may have.
pub(crate) fn split_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, usize> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(len);
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((&buf[4..4 + len], 4 + len)))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_task_message_frames_its_items() {
        let f = FnRef {
            function: 7,
            trampoline: -9,
        };
        let mut msg = TaskMessage::new(f, 16);
        msg.push(&5u32).unwrap();
        msg.push(&"hi").unwrap();
        let mut bytes = msg.finish();
        stamp_ticket(&mut bytes, u64::MAX - 3);
        assert_eq!(task_ticket(&bytes), Some(u64::MAX - 3));
        assert_eq!(task_ticket(&FromWorker::ready_frame(1, 2, "n")), None);
        let (body, used) = split_frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let Some(ToWorker::Task(mut task)) = ToWorker::decode(body) else {
            panic!("not a TASK message");
        };
        assert_eq!(task.ticket, u64::MAX - 3);
        assert_eq!((task.function, task.trampoline, task.items), (7, -9, 2));
        assert_eq!(
            postcard::from_bytes::<u32>(task.next_argument()).unwrap(),
            5
        );
        assert_eq!(
            postcard::from_bytes::<String>(task.next_argument()).unwrap(),
            "hi"
        );
        assert!(task.next_argument().is_empty());
    }

    struct Unencodable;

    impl Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refuses to encode"))
        }
    }

    #[test]
    fn a_failed_item_leaves_the_message_unchanged() {
        let mut msg = TaskMessage::new(
            FnRef {
                function: 1,
                trampoline: 2,
            },
            0,
        );
        msg.push(&1u8).unwrap();
        let len = msg.encoded_len();
        let err = msg.push(&Unencodable).unwrap_err();
        assert!(err.contains("Serialization"), "{err}");
        assert_eq!(msg.encoded_len(), len);
        assert_eq!(msg.items(), 1);
    }

    #[test]
    fn values_over_the_limit_are_refused_with_their_sizes() {
        let f = FnRef {
            function: 1,
            trampoline: 2,
        };
        // A 100-byte `Vec<u8>` encodes to 101 bytes; with its item length, the task header
        // and the tag it makes a body of 126 bytes.
        let body = TASK_HEADER - 4 + 4 + 101;
        for (limit, fits) in [(body + 1, true), (body, true), (body - 1, false)] {
            let mut msg = TaskMessage::new(f, 0).limit(limit);
            match msg.push(&vec![0u8; 100]) {
                Ok(()) => assert!(fits, "limit {limit}"),
                Err(e) => {
                    assert!(!fits, "limit {limit}: {e}");
                    let says = format!(
                        "encodes to 101 bytes, which makes a message of {body} bytes, over \
                         the limit of {limit} bytes"
                    );
                    assert!(e.contains(&says), "{e}");
                    assert_eq!((msg.items(), msg.encoded_len()), (0, TASK_HEADER));
                }
            }
        }

        let mut out = Vec::new();
        let mut results = ResultsFrame::begin(&mut out, 1, 3, 200);
        results.item(|buf| {
            buf.extend_from_slice(&[7; 196]);
            Ok("Big")
        });
        results.item(|buf| {
            buf.push(1);
            Ok("Small")
        });
        results.item(|_| Err((ITEM_PANICKED, "long ".repeat(100))));
        results.finish();
        let (body, _) = split_frame(&out).unwrap().unwrap();
        assert_eq!(body.len(), 200, "the panic message is cut to fit");
        let Ok(FromWorker::Results(outcomes)) = FromWorker::decode(body) else {
            panic!("not a RESULTS message");
        };
        let outcomes: Vec<_> = outcomes.collect();
        assert_eq!(outcomes[0].0, ITEM_ENCODE_RESULT);
        let message = String::from_utf8_lossy(outcomes[0].1);
        assert_eq!(
            message,
            "Big: the result encodes to 196 bytes, which makes a message of 214 bytes, over \
             the limit of 200 bytes"
        );
        assert_eq!(outcomes[1], (ITEM_OK, &[1u8][..]));
        assert_eq!(outcomes[2].0, ITEM_PANICKED);
        assert!(outcomes[2].1.starts_with(b"long long"));
    }

    #[test]
    fn each_message_decodes_to_what_was_encoded() {
        let settings = WorkerSettings {
            initializer: -42,
            frame_limit: 1000,
            panic_output: PanicOutput::Silent,
            heartbeat_ms: 250,
        };
        let init = ToWorker::init_frame(&settings);
        let (body, _) = split_frame(&init).unwrap().unwrap();
        assert!(matches!(
            ToWorker::decode(body),
            Some(ToWorker::Init(s)) if s == settings
        ));

        let ready = FromWorker::ready_frame(77, i64::MIN, "node-7");
        let (body, _) = split_frame(&ready).unwrap().unwrap();
        assert!(matches!(
            FromWorker::decode(body),
            Ok(FromWorker::Ready {
                pid: 77,
                fingerprint: i64::MIN,
                node: "node-7",
            })
        ));
        let nameless = FromWorker::ready_frame(1, 2, "");
        let (body, _) = split_frame(&nameless).unwrap().unwrap();
        assert!(matches!(
            FromWorker::decode(body),
            Ok(FromWorker::Ready { node: "", .. })
        ));
        let mut bad_name = nameless.clone();
        bad_name.push(0xff);
        bad_name[..4].copy_from_slice(&(nameless.len() as u32 - 4 + 1).to_le_bytes());
        let (body, _) = split_frame(&bad_name).unwrap().unwrap();
        assert!(FromWorker::decode(body).is_err());

        let alive = FromWorker::alive_frame();
        let (body, _) = split_frame(&alive).unwrap().unwrap();
        assert!(matches!(FromWorker::decode(body), Ok(FromWorker::Alive)));

        let failed = FromWorker::init_failed_frame("no config");
        let (body, _) = split_frame(&failed).unwrap().unwrap();
        assert!(matches!(
            FromWorker::decode(body),
            Ok(FromWorker::InitFailed(m)) if m == "no config"
        ));

        let mut out = vec![9, 9, 9];
        let mut results = ResultsFrame::begin(&mut out, 12, 2, MAX_FRAME);
        results.item(|buf| {
            buf.extend_from_slice(b"ok");
            Ok("T")
        });
        results.item(|buf| {
            buf.extend_from_slice(b"half-written");
            Err((ITEM_PANICKED, "boom".into()))
        });
        results.finish();
        let (body, used) = split_frame(&out).unwrap().unwrap();
        assert_eq!(used, out.len());
        let Ok(FromWorker::Results(outcomes)) = FromWorker::decode(body) else {
            panic!("not a RESULTS message");
        };
        assert_eq!(outcomes.ticket(), 12);
        assert_eq!(
            outcomes.collect::<Vec<_>>(),
            vec![(ITEM_OK, &b"ok"[..]), (ITEM_PANICKED, &b"boom"[..])]
        );
    }

    #[test]
    fn what_is_not_the_protocol_is_refused_by_name() {
        assert!(ToWorker::decode(&[0xee]).is_none());
        assert!(
            ToWorker::decode(&[TASK, 1, 2]).is_none(),
            "a truncated task header"
        );
        for (body, says) in [
            (&[0xee][..], "unknown tag 0xee"),
            (&[][..], "empty"),
            (&[READY, 1, 2][..], "truncated READY"),
            (&[RESULTS, 1][..], "truncated result"),
        ] {
            let error = FromWorker::decode(body).unwrap_err();
            assert!(error.contains(says), "{error:?} should say {says:?}");
        }
    }

    #[test]
    fn partial_and_bad_frames_are_told_apart() {
        let whole = frame(READY, &[1, 2, 3]);
        assert_eq!(split_frame(&whole[..3]), Ok(None));
        assert_eq!(split_frame(&whole[..6]), Ok(None));
        assert_eq!(split_frame(&whole), Ok(Some((&whole[4..], whole.len()))));
        assert_eq!(split_frame(&[0, 0, 0, 0]), Err(0));
    }

    #[test]
    fn outcomes_stop_at_a_truncated_body() {
        let mut body = Vec::new();
        body.extend_from_slice(&5u64.to_le_bytes());
        body.extend_from_slice(&2u32.to_le_bytes());
        body.push(ITEM_OK);
        body.extend_from_slice(&1u32.to_le_bytes());
        body.push(42);
        body.push(ITEM_PANICKED);
        let outcomes = Outcomes::parse(&body).unwrap();
        assert_eq!(outcomes.items(), 2);
        assert_eq!(outcomes.collect::<Vec<_>>(), vec![(ITEM_OK, &[42u8][..])]);
    }
}
