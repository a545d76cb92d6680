//! The messages on a worker's two pipes.
//!
//! Every message is a frame: a little-endian `u32` body length, then the body, whose first
//! byte is a tag. The parent sends:
//!
//! - `INIT`: `i64` initializer offset, or 0 for none. Always the first message.
//! - `TASK`: `i64` function offset, `i64` trampoline offset, `u32` item count, then per item
//!   a `u32` length and the encoded argument. A single task is a chunk of one item.
//!
//! The worker answers:
//!
//! - `READY`: `u32` pid, `i64` build fingerprint; after `INIT` succeeded.
//! - `INIT_FAILED`: a UTF-8 message; the worker exits after it.
//! - `RESULTS`: `u32` item count, then per item a status byte, a `u32` length and the bytes
//!   (the encoded result, or a UTF-8 message for a failure), in the order of the task's items.
//!
//! A worker handles one task message at a time, in order, so no message needs an id.

use serde::Serialize;

use crate::function::FnRef;

pub(crate) const INIT: u8 = 1;
pub(crate) const TASK: u8 = 2;
pub(crate) const READY: u8 = 0x11;
pub(crate) const INIT_FAILED: u8 = 0x12;
pub(crate) const RESULTS: u8 = 0x13;

/// Item statuses in a `RESULTS` message.
pub(crate) const ITEM_OK: u8 = 0;
pub(crate) const ITEM_PANICKED: u8 = 1;
pub(crate) const ITEM_DECODE_ARGUMENT: u8 = 2;
pub(crate) const ITEM_ENCODE_RESULT: u8 = 3;

/// The largest frame either side accepts; anything bigger is a corrupted stream.
pub(crate) const MAX_FRAME: usize = 1 << 31;

const TASK_HEADER: usize = 4 + 1 + 8 + 8 + 4;

/// Builds a `TASK` frame item by item.
#[derive(Debug)]
pub(crate) struct TaskMessage {
    buf: Vec<u8>,
    items: u32,
}

impl TaskMessage {
    pub(crate) fn new(f: FnRef, capacity: usize) -> TaskMessage {
        let mut buf = Vec::with_capacity(TASK_HEADER + capacity);
        buf.extend_from_slice(&[0; 4]);
        buf.push(TASK);
        buf.extend_from_slice(&f.function.to_le_bytes());
        buf.extend_from_slice(&f.trampoline.to_le_bytes());
        buf.extend_from_slice(&[0; 4]);
        TaskMessage { buf, items: 0 }
    }

    /// Appends one encoded argument; on an encoding error the message is left unchanged.
    pub(crate) fn push<A: Serialize>(&mut self, arg: &A) -> Result<(), String> {
        let mark = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        match postcard::to_io(arg, &mut self.buf) {
            Ok(_) => {
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

/// A frame with the given tag and body.
pub(crate) fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(5 + body.len());
    buf.extend_from_slice(&((body.len() + 1) as u32).to_le_bytes());
    buf.push(tag);
    buf.extend_from_slice(body);
    buf
}

/// Reads little-endian numbers and length-prefixed slices from a frame body.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
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

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// The per-item outcomes of a `RESULTS` body (after the tag), iterable any number of times.
#[derive(Clone, Debug)]
pub(crate) struct Outcomes<'a> {
    count: u32,
    cursor: Cursor<'a>,
}

impl<'a> Outcomes<'a> {
    /// Parses the item count; `None` for a body too short to hold one.
    pub(crate) fn parse(body: &'a [u8]) -> Option<Outcomes<'a>> {
        let mut cursor = Cursor::new(body);
        let count = cursor.u32()?;
        Some(Outcomes { count, cursor })
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
        let bytes = msg.finish();
        let (body, used) = split_frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let mut c = Cursor::new(body);
        assert_eq!(c.u8(), Some(TASK));
        assert_eq!(c.i64(), Some(7));
        assert_eq!(c.i64(), Some(-9));
        assert_eq!(c.u32(), Some(2));
        assert_eq!(postcard::from_bytes::<u32>(c.bytes().unwrap()).unwrap(), 5);
        assert_eq!(
            postcard::from_bytes::<String>(c.bytes().unwrap()).unwrap(),
            "hi"
        );
        assert!(c.rest().is_empty());
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
