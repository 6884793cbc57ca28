//! A guard in front of the `bhttp` crate's streaming reader. That reader allocates a buffer of
//! whatever length a field or chunk declares before reading it (found by fuzzing: a declared
//! length of 2^62 aborted the process), so the decrypted reply first passes through this guard,
//! which follows the Binary HTTP response framing (RFC 9292 §3) byte by byte and refuses any
//! declared length beyond what a reply may carry — before the reader sees it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::AsyncRead;
use sotto_enclave_protocol::varint;

/// The longest field name or value, and the longest field section of a known-length message.
const MAX_FIELD: u64 = 64 * 1024;
const MAX_SECTION: u64 = 1 << 20;
/// The most field lines in one section, and interim (1xx) responses before the final one.
const MAX_FIELDS: u32 = 1024;
const MAX_INFORMATIONAL: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Informational,
    Header,
    Trailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Framing,
    Status,
    /// An indeterminate-length field line: its name's length (0 ends the section), then its value's.
    Field { section: Section, name: bool },
    /// A known-length message's whole field section.
    KnownSection(Section),
    KnownContent,
    /// An indeterminate-length content chunk's length (0 ends the content).
    Chunk,
    /// After the trailer: padding (the reader takes zeros only, up to its size limit).
    Padding,
}

/// Follows the framing; `feed` fails at the first declared length over its limit.
#[derive(Debug)]
struct Framing {
    step: Step,
    known: bool,
    varint: Vec<u8>,
    skip: u64,
    after_skip: Step,
    max_content: u64,
    /// Field lines and bytes of the indeterminate-length section being read (the reader keeps
    /// them all), and interim responses so far.
    fields: u32,
    section_bytes: u64,
    informational: u32,
}

impl Framing {
    fn new(max_content: u64) -> Self {
        Self { step: Step::Framing, known: false, varint: Vec::new(), skip: 0, after_skip: Step::Framing, max_content, fields: 0, section_bytes: 0, informational: 0 }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            if self.step == Step::Padding {
                return Ok(());
            }
            if self.skip > 0 {
                let n = (self.skip.min(bytes.len() as u64)) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                if self.skip == 0 {
                    self.step = self.after_skip;
                }
                continue;
            }
            self.varint.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some((v, _)) = varint::read(&self.varint) {
                self.varint.clear();
                self.value(v)?;
            }
        }
        Ok(())
    }

    /// Whether the message has ended (its trailer read). A reply that stops before cannot carry
    /// its receipt, whatever RFC 9292 allows a truncated message to mean, and the `bhttp` reader
    /// would wait for the rest until the stall timeout.
    fn complete(&self) -> bool {
        self.step == Step::Padding
    }

    fn bounded(&mut self, v: u64, max: u64, what: &str, then: Step) -> Result<(), String> {
        if v > max {
            return Err(format!("the reply declares {what} of {v} bytes, more than the {max} it may carry"));
        }
        self.skip = v;
        self.after_skip = then;
        if v == 0 {
            self.step = then;
        }
        Ok(())
    }

    fn after_section(&self, section: Section) -> Step {
        match (section, self.known) {
            (Section::Informational, _) => Step::Status,
            (Section::Header, true) => Step::KnownContent,
            (Section::Header, false) => Step::Chunk,
            (Section::Trailer, _) => Step::Padding,
        }
    }

    fn value(&mut self, v: u64) -> Result<(), String> {
        match self.step {
            Step::Framing => {
                self.known = match v {
                    1 => true,
                    3 => false,
                    _ => return Err(format!("the reply is not a Binary HTTP response (framing indicator {v})")),
                };
                self.step = Step::Status;
            }
            Step::Status => {
                let section = if (100..200).contains(&v) { Section::Informational } else { Section::Header };
                if section == Section::Informational {
                    self.informational += 1;
                    if self.informational > MAX_INFORMATIONAL {
                        return Err(format!("the reply sends more than {MAX_INFORMATIONAL} interim responses"));
                    }
                }
                (self.fields, self.section_bytes) = (0, 0);
                self.step = if self.known { Step::KnownSection(section) } else { Step::Field { section, name: true } };
            }
            Step::Field { section, name: true } if v == 0 => {
                (self.fields, self.section_bytes) = (0, 0);
                self.step = self.after_section(section)
            }
            Step::Field { section, name } => {
                self.bounded(v, MAX_FIELD, "a field", Step::Field { section, name: !name })?;
                self.fields += u32::from(name);
                self.section_bytes = self.section_bytes.saturating_add(v);
                if self.fields > MAX_FIELDS || self.section_bytes > MAX_SECTION {
                    return Err(format!("the reply's fields exceed {MAX_FIELDS} lines or {} KiB", MAX_SECTION >> 10));
                }
            }
            Step::KnownSection(section) => {
                let then = self.after_section(section);
                self.bounded(v, MAX_SECTION, "a field section", then)?
            }
            Step::KnownContent => self.bounded(v, self.max_content, "content", Step::KnownSection(Section::Trailer))?,
            Step::Chunk if v == 0 => self.step = Step::Field { section: Section::Trailer, name: true },
            Step::Chunk => self.bounded(v, self.max_content, "a content chunk", Step::Chunk)?,
            Step::Padding => {}
        }
        Ok(())
    }
}

/// The decrypted reply, passed through unchanged unless its framing declares too much.
pub(crate) struct LengthGuard<R> {
    inner: R,
    framing: Framing,
}

impl<R> LengthGuard<R> {
    /// `max_content`: the most any one content chunk (or a known-length body) may declare.
    pub(crate) fn new(inner: R, max_content: usize) -> Self {
        Self { inner, framing: Framing::new(max_content as u64) }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LengthGuard<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) if !buf.is_empty() && !this.framing.complete() => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the reply was cut off before its end")))
            }
            Poll::Ready(Ok(n)) => match this.framing.feed(&buf[..n]) {
                Ok(()) => {
                    // The `bhttp` reader, handed fewer bytes than it asked for, answers Pending
                    // without arranging to be polled again: arrange it here, or the reply would
                    // wait for the stall timeout.
                    if n < buf.len() {
                        cx.waker().wake_by_ref();
                    }
                    Poll::Ready(Ok(n))
                }
                Err(why) => Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why))),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_enclave_protocol::bhttp_stream::{content_chunk, content_end_and_trailer, response_head};

    fn reply() -> Vec<u8> {
        [
            response_head(200, &[("content-type", b"text/event-stream".as_slice())]),
            content_chunk(b"data: {}\n\n"),
            content_chunk(&[b'x'; 3000]),
            content_end_and_trailer(&[("sotto-receipt", b"{}".as_slice())]),
            vec![0; 17],
        ]
        .concat()
    }

    #[test]
    fn a_real_reply_passes_in_any_split() {
        let bytes = reply();
        for split in [1, 2, 3, 7, 100, bytes.len()] {
            let mut f = Framing::new(1 << 20);
            for piece in bytes.chunks(split) {
                f.feed(piece).unwrap();
            }
            assert_eq!(f.step, Step::Padding, "split {split}");
        }
    }

    #[test]
    fn a_huge_declared_length_is_refused_before_anything_is_allocated() {
        // The fuzzer's case: a trailer field declaring 2^62 - 1 bytes.
        let mut bytes = [response_head(200, &[]), content_end_and_trailer(&[])].concat();
        bytes.truncate(bytes.len() - 1);
        bytes.extend_from_slice(&[0xff; 8]);
        let e = Framing::new(1 << 20).feed(&bytes).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let big_chunk = [response_head(200, &[]), vec![0x80, 0x20, 0, 0]].concat(); // a 2 MiB chunk
        assert!(Framing::new(1 << 20).feed(&big_chunk).is_err());
        assert!(Framing::new(1 << 20).feed(&[0x02]).unwrap_err().contains("framing indicator"));
    }

    #[test]
    fn endless_fields_or_interim_responses_are_refused() {
        // 2,000 small field lines in one header section.
        let mut many = vec![0x03, 0x40, 0xc8];
        for _ in 0..2000 {
            many.extend_from_slice(&[1, b'a', 1, b'b']);
        }
        assert!(Framing::new(1 << 20).feed(&many).unwrap_err().contains("fields"));
        // 20 fields of 60 KiB each: every one allowed, together over the section's limit.
        let mut big = vec![0x03, 0x40, 0xc8];
        for _ in 0..20 {
            big.extend_from_slice(&[1, b'a', 0x80, 0x00, 0xf0, 0x00]);
            big.extend(std::iter::repeat_n(b'x', 0xf000));
        }
        assert!(Framing::new(1 << 20).feed(&big).unwrap_err().contains("fields"));
        // Interim 103 responses without end.
        let mut interim = vec![0x03];
        for _ in 0..20 {
            interim.extend_from_slice(&[0x40, 0x67, 0]);
        }
        assert!(Framing::new(1 << 20).feed(&interim).unwrap_err().contains("interim"));
        // A few of each are fine.
        let mut fine = vec![0x03, 0x40, 0x67, 0];
        fine.extend_from_slice(&[0x40, 0xc8]);
        for _ in 0..50 {
            fine.extend_from_slice(&[1, b'a', 1, b'b']);
        }
        fine.push(0);
        Framing::new(1 << 20).feed(&fine).unwrap();
    }

    /// A reply that ends before its trailer — inside a chunk or between parts — is said to be
    /// cut off at once; before, the `bhttp` reader waited for the rest until the stall timeout.
    #[tokio::test]
    async fn a_reply_cut_inside_an_item_ends_at_once() {
        use futures::AsyncReadExt;
        let bytes = reply();
        for cut in [0, 1, 2, 5, 35, 36, 40, bytes.len() - 30, bytes.len() - 18] {
            let mut guard = LengthGuard::new(futures::io::Cursor::new(bytes[..cut].to_vec()), 1 << 20);
            let mut sink = Vec::new();
            let e = guard.read_to_end(&mut sink).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
        let mut whole = LengthGuard::new(futures::io::Cursor::new(bytes.clone()), 1 << 20);
        let mut sink = Vec::new();
        whole.read_to_end(&mut sink).await.unwrap();
        assert_eq!(sink, bytes);
    }

    /// The input the fuzzer found (`fuzz/seeds/reply_message/crash-oversized-field`, its first
    /// byte the harness's flag): it aborted the process before this guard existed.
    #[test]
    fn the_fuzzers_crash_is_refused() {
        use base64::Engine;
        let input = base64::engine::general_purpose::STANDARD.decode("AANB9gxjb250ZW50LXR5AAAAAAD/////////AP////8AbgApeyJlcnJvciI6C3M=").unwrap();
        assert!(Framing::new(64 << 20).feed(&input[1..]).is_err());
    }
}
