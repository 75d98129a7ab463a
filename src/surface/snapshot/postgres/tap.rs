//! Taking a COPY's rows off the socket before the client parses them.
//!
//! A `COPY ... TO STDOUT` answers with one `CopyData` message per row, and
//! `tokio_postgres` hands each to the caller as a `Bytes` of its own: a
//! message parse, a reference-counted split of its read buffer, a wake of
//! the stream and a drop, per row. On the 1,000,000-row benchmark table
//! that was about a tenth of the whole snapshot's CPU (server included), as
//! much as SHA-256 of every byte.
//!
//! So the snapshot's socket is wrapped in a [`CopyTap`]. It reads the
//! server's messages as they come, by their headers only (a tag byte and a
//! length: the protocol's framing), and passes every byte on to the client
//! unchanged, except the `CopyData` messages of a COPY that a caller has
//! [armed](Rows::arm) the tap for: their payloads are appended, in order,
//! to one buffer the caller takes in large chunks ([`Rows::take`]). The
//! client still sees the COPY's start, its end, its command tag and any
//! error or notice, so it reports a failed COPY, and keeps its own state,
//! exactly as before; it only sees a COPY without rows.
//!
//! What keeps this exact:
//!
//! - the tap never changes, drops or reorders a byte it passes on, and it
//!   takes only whole `CopyData` payloads (a payload split over reads is
//!   taken piece by piece, in order);
//! - it takes the rows of one COPY only: the one whose `CopyOutResponse`
//!   comes next after [`Rows::arm`], until its `CopyDone` or an error.
//!   Rows of an earlier COPY still arriving (its reader gave up on an
//!   error) are passed on to the client, which drops them with the
//!   abandoned request; they never reach a later COPY;
//! - a message length the client would reject (below 4, above an `i32`)
//!   is never taken: the tap passes it and every byte after it on as they
//!   are, so the client fails the COPY as it would have;
//! - a header is passed on whole before the tap waits on the socket again,
//!   so a message without a body that ends a read is not held back;
//! - a COPY's rows are all taken before the client sees its `CopyDone`
//!   (the tap handles messages in order), so when the client's COPY stream
//!   ends, [`Rows::take`] holds the rest;
//! - the buffer is bounded ([`ROWS_BUFFER_BYTES`]): when it is full the tap
//!   stops reading the socket until the caller takes it, so memory stays
//!   bounded and the server is slowed by TCP as before;
//! - with `sslmode=require` (the server first answers one byte, not a
//!   message) the tap only passes bytes on: that connection is refused by
//!   the client anyway (the snapshot connects without TLS).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many bytes of rows the tap holds for its caller before it stops
/// reading the socket: large enough that a caller's work is per chunk, not
/// per row, small enough to stay in cache.
pub const ROWS_BUFFER_BYTES: usize = 256 << 10;

/// How much the tap reads from the socket at once.
const READ_BYTES: usize = 64 << 10;

/// A message header: its tag byte and its length (which counts itself).
const HEADER: usize = 5;

/// The `CopyOutResponse` tag: a COPY's rows follow.
const COPY_OUT_RESPONSE: u8 = b'H';
/// The `CopyData` tag: one row of a COPY.
const COPY_DATA: u8 = b'd';
/// The `CopyDone` tag: a COPY's rows are over.
const COPY_DONE: u8 = b'c';
/// The `ErrorResponse` tag.
const ERROR_RESPONSE: u8 = b'E';
/// The largest message length the client accepts (an `i32`).
const MAX_LENGTH: usize = i32::MAX as usize;

/// What the tap and its caller share.
#[derive(Default)]
struct Shared {
    /// How many `CopyOutResponse` messages the tap has passed on.
    copies: u64,
    /// The COPY (by its number in `copies`) whose rows are taken.
    armed: Option<u64>,
    /// Taken rows not yet handed to the caller.
    rows: Vec<u8>,
    /// The caller waiting for rows.
    caller: Option<Waker>,
    /// The tap waiting for room in `rows`.
    tap: Option<Waker>,
}

impl Shared {
    /// Whether the COPY under way is the armed one, whose rows are taken.
    fn taking(&self) -> bool {
        self.armed == Some(self.copies)
    }
}

/// The caller's side of a [`CopyTap`]: arms it for the next COPY and takes
/// that COPY's rows.
#[derive(Clone, Default)]
pub struct Rows(Arc<Mutex<Shared>>);

impl Rows {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The state is a counter and a buffer, consistent after every
        // statement: a panic elsewhere cannot leave it half-changed.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the rows of the next COPY to start on this connection (call it
    /// before sending the COPY); [`Disarm`] ends it.
    pub fn arm(&self) -> Disarm<'_> {
        let mut s = self.lock();
        s.armed = Some(s.copies + 1);
        s.rows.clear();
        Disarm(self)
    }

    /// Swaps the rows taken so far into `into` (which must be empty), or
    /// registers `cx` to be woken when there are some. Lets the tap read on.
    pub fn take(&self, into: &mut Vec<u8>, cx: &mut Context<'_>) -> bool {
        let mut s = self.lock();
        if s.rows.is_empty() {
            s.caller = Some(cx.waker().clone());
            return false;
        }
        std::mem::swap(&mut s.rows, into);
        if let Some(tap) = s.tap.take() {
            tap.wake();
        }
        true
    }
}

/// Ends an [`Rows::arm`]: later rows pass on to the client, and what was
/// taken but not handed over is dropped.
pub struct Disarm<'a>(&'a Rows);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.armed = None;
        s.rows = Vec::new();
        s.caller = None;
        if let Some(tap) = s.tap.take() {
            tap.wake();
        }
    }
}

/// Where the tap is in the server's stream of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Reading a header: `have` of its bytes so far.
    Header { have: usize },
    /// Passing a header on: `sent` of its bytes so far, then `body`.
    PassHeader { sent: usize, body: usize },
    /// Passing `left` bytes of a message's body on.
    Pass { left: usize },
    /// Taking `left` bytes of a `CopyData` payload.
    Take { left: usize },
}

/// A socket wrapper that takes an armed COPY's rows (see the module
/// documentation) and passes everything else on.
pub struct CopyTap<S> {
    inner: S,
    /// Off: every byte passes on untouched (see the module documentation).
    framing: bool,
    rows: Rows,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    frame: Frame,
    header: [u8; HEADER],
}

impl<S> CopyTap<S> {
    /// Wraps `inner`; `framing` off passes every byte on as it is.
    pub fn new(inner: S, framing: bool) -> (Self, Rows) {
        let rows = Rows::default();
        let tap = CopyTap {
            inner,
            framing,
            rows: rows.clone(),
            buf: vec![0; READ_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            frame: Frame::Header { have: 0 },
            header: [0; HEADER],
        };
        (tap, rows)
    }

    /// Handles the buffered bytes: passes bytes on into `out` while it has
    /// room, takes armed rows while there is room for them. Returns whether
    /// it stopped because the rows buffer is full (the waker is registered).
    fn drain(&mut self, out: &mut ReadBuf<'_>, cx: &mut Context<'_>) -> bool {
        let rows = self.rows.clone();
        let mut shared = rows.lock();
        let mut took = false;
        let mut full = false;
        // A header passed on waits for room in `out` only: it is finished
        // before the tap waits on the socket again (a message with no body,
        // such as `CopyDone`, must not wait for the next bytes to come).
        while self.start < self.end || matches!(self.frame, Frame::PassHeader { .. }) {
            match self.frame {
                Frame::Header { have } => {
                    let n = (HEADER - have).min(self.end - self.start);
                    self.header[have..have + n]
                        .copy_from_slice(&self.buf[self.start..self.start + n]);
                    self.start += n;
                    if have + n < HEADER {
                        self.frame = Frame::Header { have: have + n };
                        continue;
                    }
                    let tag = self.header[0];
                    let len = u32::from_be_bytes([
                        self.header[1],
                        self.header[2],
                        self.header[3],
                        self.header[4],
                    ]) as usize;
                    // A length the client rejects (below 4, or above what
                    // an i32 holds): never taken, and from there on every
                    // byte is passed on as it is, for the client to fail.
                    let valid = (4..=MAX_LENGTH).contains(&len);
                    let body = if valid { len - 4 } else { usize::MAX };
                    let armed = shared.taking();
                    if valid && tag == COPY_OUT_RESPONSE {
                        shared.copies += 1;
                    }
                    if valid && armed && (tag == COPY_DONE || tag == ERROR_RESPONSE) {
                        // The armed COPY is over: nothing after it is taken.
                        shared.armed = None;
                    }
                    self.frame = if valid && tag == COPY_DATA && armed {
                        Frame::Take { left: body }
                    } else {
                        Frame::PassHeader { sent: 0, body }
                    };
                }
                Frame::PassHeader { sent, body } => {
                    let n = (HEADER - sent).min(out.remaining());
                    if n == 0 {
                        break;
                    }
                    out.put_slice(&self.header[sent..sent + n]);
                    self.frame = if sent + n < HEADER {
                        Frame::PassHeader {
                            sent: sent + n,
                            body,
                        }
                    } else {
                        Frame::Pass { left: body }
                    };
                }
                Frame::Pass { left } => {
                    let n = left.min(self.end - self.start).min(out.remaining());
                    if n == 0 && left > 0 {
                        break;
                    }
                    out.put_slice(&self.buf[self.start..self.start + n]);
                    self.start += n;
                    self.frame = if left == n {
                        Frame::Header { have: 0 }
                    } else {
                        Frame::Pass { left: left - n }
                    };
                }
                Frame::Take { left } => {
                    let armed = shared.taking();
                    if armed && shared.rows.len() >= ROWS_BUFFER_BYTES {
                        shared.tap = Some(cx.waker().clone());
                        full = true;
                        break;
                    }
                    let n = left.min(self.end - self.start);
                    // Disarmed mid-row: the rest of the row is dropped, as
                    // its start was (the client never saw this message).
                    if armed {
                        shared
                            .rows
                            .extend_from_slice(&self.buf[self.start..self.start + n]);
                        took = true;
                    }
                    self.start += n;
                    self.frame = if left == n {
                        Frame::Header { have: 0 }
                    } else {
                        Frame::Take { left: left - n }
                    };
                }
            }
        }
        // A zero-length body ends with its header: no bytes left to wait for.
        match self.frame {
            Frame::Pass { left: 0 } | Frame::Take { left: 0 } => {
                self.frame = Frame::Header { have: 0 }
            }
            _ => {}
        }
        if took && let Some(caller) = shared.caller.take() {
            caller.wake();
        }
        full
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CopyTap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.framing {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        loop {
            let before = out.filled().len();
            let full = this.drain(out, cx);
            if out.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
            if full {
                return Poll::Pending;
            }
            if this.start < this.end {
                // Only a message waiting for room in `out`, which has none:
                // the client always reads with room, so this is its EOF.
                return Poll::Ready(Ok(()));
            }
            this.start = 0;
            this.end = 0;
            let mut read = ReadBuf::new(&mut this.buf);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        // End of stream: reported to the client as it is.
                        return Poll::Ready(Ok(()));
                    }
                    this.end = n;
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CopyTap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reader that hands out `data` in pieces of the given sizes (then
    /// the rest); at its end, the end of the stream, or (`then_pending`)
    /// pending for ever, as a server that sent everything and now waits for
    /// the client.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        then_pending: bool,
    }

    impl Pieces {
        fn new(data: &[u8], sizes: Vec<usize>) -> Pieces {
            Pieces {
                data: data.to_vec(),
                at: 0,
                sizes,
                then_pending: false,
            }
        }

        /// `pieces`, one per read, then pending.
        fn then_pending(pieces: &[Vec<u8>]) -> Pieces {
            Pieces {
                then_pending: true,
                ..Pieces::new(&pieces.concat(), pieces.iter().map(Vec::len).collect())
            }
        }
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.then_pending && this.at == this.data.len() {
                return Poll::Pending;
            }
            let size = if this.sizes.is_empty() {
                usize::MAX
            } else {
                this.sizes.remove(0).max(1)
            };
            let n = size.min(this.data.len() - this.at).min(out.remaining());
            out.put_slice(&this.data[this.at..this.at + n]);
            this.at += n;
            Poll::Ready(Ok(()))
        }
    }

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(u32::try_from(body.len() + 4).unwrap_or(u32::MAX)).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Reads `inner` through a tap (armed before the first COPY when `arm`),
    /// with `room` bytes offered per read, taking rows after each read;
    /// `disarm_after` reads, it disarms. Stops at the end of the stream, or
    /// when the tap is pending with no rows to take (nothing more comes):
    /// (bytes passed on, rows taken).
    fn drive(
        inner: Pieces,
        room: usize,
        arm: bool,
        disarm_after: Option<usize>,
    ) -> (Vec<u8>, Vec<u8>) {
        let ends = !inner.then_pending;
        let (mut tap, rows) = CopyTap::new(inner, true);
        let mut cx = Context::from_waker(Waker::noop());
        let (mut passed, mut taken) = (Vec::new(), Vec::new());
        let mut armed = arm.then(|| rows.arm());
        let mut buf = vec![0u8; room.max(1)];
        for reads in 0.. {
            if disarm_after == Some(reads) {
                armed = None;
            }
            let mut out = ReadBuf::new(&mut buf);
            let r = Pin::new(&mut tap).poll_read(&mut cx, &mut out);
            let mut chunk = Vec::new();
            let took = rows.take(&mut chunk, &mut cx);
            taken.extend_from_slice(&chunk);
            match r {
                Poll::Ready(Ok(())) if out.filled().is_empty() => break,
                Poll::Ready(Ok(())) => passed.extend_from_slice(out.filled()),
                Poll::Ready(Err(e)) => panic!("{e}"),
                // With a stream that ends, the tap waits only for room.
                Poll::Pending if ends => assert!(took, "pending with nothing to take"),
                Poll::Pending if !took => break,
                Poll::Pending => {}
            }
        }
        drop(armed);
        (passed, taken)
    }

    /// [`drive`] over `stream` in pieces of `sizes`, armed.
    fn run(
        stream: &[u8],
        sizes: Vec<usize>,
        room: usize,
        disarm_after: Option<usize>,
    ) -> (Vec<u8>, Vec<u8>) {
        drive(Pieces::new(stream, sizes), room, true, disarm_after)
    }

    /// Splits a stream of messages into whole messages (tag, body).
    fn messages(mut s: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
        let mut out = Vec::new();
        while !s.is_empty() {
            if s.len() < HEADER {
                return None;
            }
            let len = u32::from_be_bytes([s[1], s[2], s[3], s[4]]) as usize;
            let end = 1 + len;
            if len < 4 || s.len() < end {
                return None;
            }
            out.push((s[0], s[HEADER..end].to_vec()));
            s = &s[end..];
        }
        Some(out)
    }

    fn session(copies: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut s = message(b'1', b"");
        for rows in copies {
            s.extend(message(b'H', b"\0\0\x03\0\0\0\0\0\0"));
            for r in rows {
                s.extend(message(b'd', r));
            }
            s.extend(message(b'c', b""));
            s.extend(message(b'C', b"COPY 3\0"));
            s.extend(message(b'Z', b"T"));
        }
        s
    }

    #[test]
    fn an_armed_copys_rows_are_taken_and_everything_else_passes() {
        let first = vec![b"1\ta\n".to_vec(), Vec::new(), b"2\tb\n".to_vec()];
        let second = vec![b"3\tc\n".to_vec()];
        let stream = session(&[first.clone(), second.clone()]);
        let (passed, taken) = run(&stream, vec![], 1 << 16, None);
        assert_eq!(taken, first.concat());
        let kept = messages(&passed).expect("passed bytes are whole messages");
        let tags: Vec<u8> = kept.iter().map(|m| m.0).collect();
        assert_eq!(tags, b"1HcCZHdcCZ".to_vec());
        assert_eq!(kept[6].1, second[0]);
    }

    #[test]
    fn framing_off_passes_every_byte() {
        let stream = session(&[vec![b"x\n".to_vec()]]);
        let inner = Pieces::new(&stream, vec![]);
        let (mut tap, rows) = CopyTap::new(inner, false);
        let _armed = rows.arm();
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = vec![0u8; 4096];
        let mut out = ReadBuf::new(&mut buf);
        assert!(Pin::new(&mut tap).poll_read(&mut cx, &mut out).is_ready());
        assert_eq!(out.filled(), &stream[..]);
    }

    #[test]
    fn a_full_buffer_stops_the_tap_until_the_rows_are_taken() {
        let big = vec![b'x'; ROWS_BUFFER_BYTES];
        let stream = session(&[vec![big.clone(), big.clone(), b"\n".to_vec()]]);
        let inner = Pieces::new(&stream, vec![]);
        let (mut tap, rows) = CopyTap::new(inner, true);
        let _armed = rows.arm();
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = vec![0u8; 4096];
        let mut pendings = 0;
        let mut taken = Vec::new();
        loop {
            let mut out = ReadBuf::new(&mut buf);
            match Pin::new(&mut tap).poll_read(&mut cx, &mut out) {
                Poll::Pending => {
                    pendings += 1;
                    assert!(rows.lock().rows.len() >= ROWS_BUFFER_BYTES);
                    let mut chunk = Vec::new();
                    assert!(rows.take(&mut chunk, &mut cx));
                    taken.extend(chunk);
                }
                Poll::Ready(Ok(())) if out.filled().is_empty() => break,
                Poll::Ready(r) => r.expect("reads"),
            }
        }
        let mut chunk = Vec::new();
        if rows.take(&mut chunk, &mut cx) {
            taken.extend(chunk);
        }
        assert!(pendings >= 1);
        assert_eq!(taken, [big.clone(), big, b"\n".to_vec()].concat());
    }

    #[test]
    fn rows_of_an_abandoned_copy_never_reach_the_next_one() {
        let first: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("{i}\tfirst\n").into_bytes())
            .collect();
        let second = vec![b"1\tsecond\n".to_vec(), b"2\tsecond\n".to_vec()];
        let inner = Pieces::new(&session(&[first.clone(), second.clone()]), vec![7; 1000]);
        let (mut tap, rows) = CopyTap::new(inner, true);
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = vec![0u8; 64];
        let mut read = |tap: &mut CopyTap<Pieces>| {
            let mut out = ReadBuf::new(&mut buf);
            let r = Pin::new(tap).poll_read(&mut cx, &mut out);
            matches!(r, Poll::Ready(Ok(()))) && out.filled().is_empty()
        };
        // The reader of the first COPY gives up after a few reads, and the
        // next COPY is armed at once, while the first one's rows still come.
        let armed = rows.arm();
        for _ in 0..6 {
            read(&mut tap);
        }
        drop(armed);
        let _armed = rows.arm();
        let mut taken = Vec::new();
        loop {
            let end = read(&mut tap);
            let mut chunk = Vec::new();
            if rows.take(&mut chunk, &mut Context::from_waker(Waker::noop())) {
                taken.extend(chunk);
            }
            if end {
                break;
            }
        }
        assert_eq!(taken, second.concat());
    }

    proptest! {
        /// Whatever the socket's read sizes and the room the client offers,
        /// the first COPY's rows are taken exactly and in order, and the
        /// bytes passed on are the stream without that COPY's `CopyData`
        /// messages (so the client parses them as it parsed the whole).
        #[test]
        fn any_split_takes_exactly_the_armed_copys_rows(
            copies in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12),
                1..4,
            ),
            sizes in proptest::collection::vec(1usize..30, 0..200),
            room in 1usize..40,
        ) {
            let stream = session(&copies);
            let (passed, taken) = run(&stream, sizes, room, None);
            prop_assert_eq!(&taken, &copies[0].concat());
            let mut without = message(b'1', b"");
            without.extend(message(b'H', b"\0\0\x03\0\0\0\0\0\0"));
            without.extend(message(b'c', b""));
            without.extend(message(b'C', b"COPY 3\0"));
            without.extend(message(b'Z', b"T"));
            without.extend(session(&copies[1..])[HEADER..].iter().copied());
            prop_assert_eq!(passed, without);
        }

        /// Disarmed at any point (the reader gave up), the tap still passes
        /// on whole messages only, and never more rows than the COPY sent.
        #[test]
        fn disarming_anywhere_keeps_the_stream_whole(
            rows in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12),
            sizes in proptest::collection::vec(1usize..30, 0..200),
            room in 1usize..40,
            disarm in 0usize..60,
        ) {
            let stream = session(&[rows.clone(), rows.clone()]);
            let (passed, taken) = run(&stream, sizes, room, Some(disarm));
            let kept = messages(&passed);
            prop_assert!(kept.is_some(), "passed bytes are not whole messages");
            let all = rows.concat();
            prop_assert!(all.starts_with(&taken));
            // The second COPY is never taken: all its rows pass on.
            let kept = kept.unwrap_or_default();
            let second: Vec<&Vec<u8>> = kept
                .iter()
                .skip_while(|m| m.0 != b'H')
                .skip(1)
                .skip_while(|m| m.0 != b'H')
                .filter(|m| m.0 == b'd')
                .map(|m| &m.1)
                .collect();
            prop_assert_eq!(second.len(), rows.len());
        }
    }

    /// What the tap passes on of `stream` (one read, then the server waits)
    /// before it waits too, `room` bytes offered per read.
    fn until_waiting(stream: &[u8], room: usize) -> Vec<u8> {
        drive(Pieces::then_pending(&[stream.to_vec()]), room, false, None).0
    }

    /// A message with no body that ends a read (`CopyDone`, `BindComplete`)
    /// reaches the client before the tap waits for more bytes: the server
    /// may send nothing more until the client answers.
    #[test]
    fn a_message_that_ends_a_read_is_passed_on_before_waiting() {
        let mut first = message(b'Z', b"I");
        first.extend(message(b'2', b""));
        assert_eq!(until_waiting(&first, 4096), first);
        let done = message(b'c', b"");
        assert_eq!(until_waiting(&done, 3), done);
        assert_eq!(until_waiting(&done, 1), done);
    }

    /// A length the client rejects is never taken: the client sees it and
    /// fails, instead of a COPY that looks whole.
    #[test]
    fn a_malformed_length_is_passed_on_not_taken() {
        for bad in [
            [0u8, 0, 0, 0],
            [0, 0, 0, 3],
            [0x80, 0, 0, 4],
            [0xff, 0xff, 0xff, 0xff],
        ] {
            let mut stream = message(b'1', b"");
            stream.extend(message(b'H', b"\0\0\x03\0\0\0\0\0\0"));
            stream.push(b'd');
            stream.extend(bad);
            stream.extend(message(b'd', b"abc\n"));
            stream.extend(message(b'c', b""));
            let (passed, taken) = run(&stream, vec![], 1 << 16, None);
            assert!(taken.is_empty(), "{bad:?}");
            // Every byte, the bad header and all after it, reaches the client.
            assert_eq!(passed, stream, "{bad:?}");
        }
    }

    /// Rows after the armed COPY's end (or its error) are not taken: the
    /// client's COPY has ended, they belong to nothing.
    #[test]
    fn nothing_after_the_armed_copys_end_is_taken() {
        for end in [message(b'c', b""), message(b'E', b"SERROR\0\0")] {
            let mut stream = message(b'H', b"\0\0\x03\0\0\0\0\0\0");
            stream.extend(message(b'd', b"1\n"));
            stream.extend(&end);
            let stray = message(b'd', b"2\n");
            stream.extend(&stray);
            let (passed, taken) = drive(Pieces::then_pending(&[stream]), 4096, true, None);
            assert_eq!(taken, b"1\n");
            assert!(passed.ends_with(&stray));
        }
    }
}
