//! Padding, so the relay learns nothing from sizes: it sees the user's address next to every
//! sealed chunk, and unpadded chunk lengths give away token lengths (the token-length attack
//! on AI assistants, Weiss et al., USENIX Security 2024) and request sizes the prompt's length.
//!
//! - Every sealed chunk of a reply carries a plaintext that is a multiple of [`CHUNK_BUCKET`]
//!   bytes: 256, larger than almost any single streamed event's variable part (a token and its
//!   JSON escaping), so events of different tokens seal to the same size. The padding is an SSE
//!   comment line (`:` …, which every SSE parser ignores), trailing JSON whitespace, or a
//!   `sotto-padding` field in a Binary HTTP header or trailer section; it is part of what the
//!   enclave hashes, so the receipt still covers exactly what arrived.
//! - Requests are padded to a power of two of at least [`REQUEST_MIN_BUCKET`] bytes, so prompts
//!   of 5 and 500 characters seal to the same size and the turns of a conversation grow only
//!   in steps.
//! - Timing is hidden by coalescing, which the client asks for in its sealed request
//!   ([`COALESCE_FIELD`]): the enclave holds streamed text for a short window and seals it as
//!   one event, so chunks leave on a timer rather than in the model's rhythm. It costs up to the
//!   window in latency per event, so it is a setting.

use crate::bhttp_stream::{content_chunk, content_end_and_trailer, response_head};
use crate::varint::read as read_varint;

pub const CHUNK_BUCKET: usize = 256;
pub const REQUEST_MIN_BUCKET: usize = 1024;
/// The sealed request header by which a client asks the enclave to coalesce streamed text
/// for up to this many milliseconds before sealing a chunk (hides the model's token timing).
pub const COALESCE_FIELD: &str = "sotto-coalesce-ms";
/// The longest coalescing window an enclave grants.
pub const MAX_COALESCE_MS: u64 = 1000;
/// The header or trailer field that carries padding (ignored by both sides).
pub const PADDING_FIELD: &str = "sotto-padding";

/// The smallest padding `n` (built by `build(n)`) whose output is a multiple of `bucket`.
pub fn pad_to(bucket: usize, build: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let base = build(0);
    if base.len() % bucket == 0 {
        return base;
    }
    let mut n = bucket - base.len() % bucket;
    // A length prefix may grow by a byte as the padding grows, so step until it fits.
    loop {
        let out = build(n);
        if out.len() % bucket == 0 {
            return out;
        }
        n += 1;
    }
}

/// The bucket a request of `len` bytes is padded to.
pub fn request_bucket(len: usize) -> usize {
    len.max(REQUEST_MIN_BUCKET).next_power_of_two()
}

/// How reply content is padded without changing what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Server-sent events: a comment line.
    EventStream,
    /// JSON (or anything whitespace-tolerant): trailing spaces.
    Whitespace,
}

/// `data` with padding appended in `style`, `n` bytes of filler.
pub fn padded(data: &[u8], style: Style, n: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    match style {
        Style::EventStream => {
            out.push(b':');
            out.extend(std::iter::repeat_n(b' ', n));
            out.push(b'\n');
        }
        Style::Whitespace => out.extend(std::iter::repeat_n(b' ', n)),
    }
    out
}

/// A Binary HTTP content chunk whose framing and content fill whole buckets; returns the chunk
/// and the content as padded (what the receipt hashes).
pub fn content(data: &[u8], style: Style) -> (Vec<u8>, Vec<u8>) {
    let chunk = pad_to(CHUNK_BUCKET, |n| content_chunk(&padded(data, style, n)));
    // The chunk is `varint(len) ‖ content`: the content is what follows the length.
    let at = read_varint(&chunk).map_or(0, |(_, n)| n);
    let content = chunk[at..].to_vec();
    (chunk, content)
}

/// Content bytes per chunk of a large reply: with its 4-byte length prefix a chunk fills
/// exactly [`LARGE_CHUNK`] bytes.
pub const LARGE_SLICE: usize = LARGE_CHUNK - 4;
/// The size of every piece of a large reply (an image), the last one included. (The OHTTP
/// layer seals each piece as four 16 KiB chunks, its largest.)
pub const LARGE_CHUNK: usize = 64 * 1024;

/// The fewest pieces a large reply is padded to (1 MiB).
pub const LARGE_MIN_PIECES: usize = 16;

/// How many [`LARGE_CHUNK`] pieces a large reply of `len` bytes is padded to: a power of two
/// of at least [`LARGE_MIN_PIECES`], so the relay learns only a coarse size class — not the
/// number of images, their size or how well they compressed, nor whether it was a refusal.
pub fn large_pieces(len: usize) -> usize {
    len.div_ceil(LARGE_SLICE).max(LARGE_MIN_PIECES).next_power_of_two()
}

/// Piece `i` of large whitespace-tolerant content (an image reply's JSON) padded to
/// `large_pieces(data.len())` pieces of exactly [`LARGE_CHUNK`] bytes each; trailing spaces
/// only (after the JSON ends), so no padding lands inside a JSON string. Returns the chunk and
/// its content as padded (what the receipt hashes). Made one at a time, so a sender never
/// holds them all.
pub fn large_piece(data: &[u8], i: usize) -> (Vec<u8>, Vec<u8>) {
    let start = (i * LARGE_SLICE).min(data.len());
    let slice = &data[start..(start + LARGE_SLICE).min(data.len())];
    let content = padded(slice, Style::Whitespace, LARGE_SLICE - slice.len());
    (content_chunk(&content), content)
}

/// The response head, padded with a `sotto-padding` header.
pub fn head(status: u16, headers: &[(&str, &[u8])]) -> Vec<u8> {
    pad_to(CHUNK_BUCKET, |n| {
        let filler = vec![b'0'; n];
        let mut all = headers.to_vec();
        all.push((PADDING_FIELD, &filler));
        response_head(status, &all)
    })
}

/// The end of the content and the trailer, padded with a `sotto-padding` trailer field.
pub fn end_and_trailer(trailer: &[(&str, &[u8])]) -> Vec<u8> {
    pad_to(CHUNK_BUCKET, |n| {
        let filler = vec![b'0'; n];
        let mut all = trailer.to_vec();
        all.push((PADDING_FIELD, &filler));
        content_end_and_trailer(&all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_fills_whole_buckets_and_keeps_its_meaning() {
        for size in [0usize, 1, 63, 64, 200, 254, 255, 256, 1000, 20_000] {
            let data = vec![b'x'; size];
            for style in [Style::EventStream, Style::Whitespace] {
                let (chunk, content) = content(&data, style);
                assert_eq!(chunk.len() % CHUNK_BUCKET, 0, "{size} {style:?}");
                assert!(content.starts_with(&data));
                let pad = &content[data.len()..];
                match style {
                    Style::EventStream => assert!(pad.starts_with(b":") && pad.ends_with(b"\n")),
                    Style::Whitespace => assert!(pad.iter().all(|b| *b == b' ')),
                }
            }
        }
        let h = head(200, &[("content-type", b"text/event-stream")]);
        assert_eq!(h.len() % CHUNK_BUCKET, 0);
        let msg = [h.clone(), content(b"data: {}\n\n", Style::EventStream).0, end_and_trailer(&[("sotto-receipt", b"{}")])].concat();
        let parsed = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&msg)).unwrap();
        assert_eq!(parsed.trailer().get(b"sotto-receipt"), Some(&b"{}"[..]));
        assert!(parsed.content().starts_with(b"data: {}\n\n:"));
    }

    #[test]
    fn large_content_fills_whole_64k_chunks_in_size_classes_and_pads_only_at_the_end() {
        let data: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let n = large_pieces(data.len());
        assert_eq!(n, 16, "at least 1 MiB");
        let pieces: Vec<_> = (0..n).map(|i| large_piece(&data, i)).collect();
        assert!(pieces.iter().all(|(chunk, _)| chunk.len() == LARGE_CHUNK));
        let joined: Vec<u8> = pieces.iter().flat_map(|(_, c)| c.clone()).collect();
        assert_eq!(&joined[..data.len()], &data[..]);
        assert!(joined[data.len()..].iter().all(|b| *b == b' '));
        // Sizes fall into powers of two: 1 and 1.3 MiB of content both become 2 MiB.
        assert_eq!(large_pieces(17 * LARGE_SLICE), 32);
        assert_eq!(large_pieces(21 * LARGE_SLICE), 32);
        assert_eq!(large_pieces(0), 16);
    }

    #[test]
    fn requests_grow_in_powers_of_two() {
        assert_eq!(request_bucket(5), 1024);
        assert_eq!(request_bucket(1024), 1024);
        assert_eq!(request_bucket(1025), 2048);
    }
}
