//! Writing an indeterminate-length Binary HTTP response (RFC 9292 §3.2) in pieces.
//!
//! The `bhttp` crate reads such messages incrementally but writes only whole messages; a
//! streamed reply must be framed as it is produced, so each piece can be sealed at once.

/// Framing indicator of an indeterminate-length response.
const INDETERMINATE_RESPONSE: u64 = 3;

use crate::varint::put as put_varint;

fn put_vec(out: &mut Vec<u8>, data: &[u8]) {
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn put_fields(out: &mut Vec<u8>, fields: &[(&str, &[u8])]) {
    for (name, value) in fields {
        put_vec(out, name.as_bytes());
        put_vec(out, value);
    }
    put_varint(out, 0);
}

/// The framing indicator, status and header section.
pub fn response_head(status: u16, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, INDETERMINATE_RESPONSE);
    put_varint(&mut out, u64::from(status));
    put_fields(&mut out, headers);
    out
}

/// One content chunk; empty content is skipped (a zero length would end the content).
pub fn content_chunk(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if !data.is_empty() {
        put_vec(&mut out, data);
    }
    out
}

/// The end of the content and the trailer section.
pub fn content_end_and_trailer(trailer: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, 0);
    put_fields(&mut out, trailer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(status: u16, pieces: &[Vec<u8>], trailer: &[u8]) -> Vec<u8> {
        let mut m = response_head(status, &[("content-type", b"text/event-stream")]);
        for p in pieces {
            m.extend(content_chunk(p));
        }
        m.extend(content_end_and_trailer(&[("sotto-receipt", trailer)]));
        m
    }

    proptest! {
        #[test]
        fn the_bhttp_crate_reads_what_we_write(
            status in 200u16..600,
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            trailer in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let bytes = frame(status, &pieces, &trailer);
            let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&bytes)).unwrap();
            prop_assert_eq!(msg.control().status().map(|s| s.code()), Some(status));
            let all = pieces.concat();
            prop_assert_eq!(msg.content(), all.as_slice());
            prop_assert_eq!(msg.trailer().get(b"sotto-receipt"), Some(trailer.as_slice()));
            prop_assert_eq!(msg.header().get(b"content-type"), Some(&b"text/event-stream"[..]));
        }
    }

    #[test]
    fn varints_use_the_shortest_form() {
        for (v, len) in [(0u64, 1), (63, 1), (64, 2), (16383, 2), (16384, 4), (1 << 30, 8)] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), len, "{v}");
        }
    }
}
