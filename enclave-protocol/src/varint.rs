//! QUIC variable-length integers (RFC 9000 §16): the length prefixes of Binary HTTP (RFC 9292)
//! and of chunked OHTTP. One reader and one writer for every framing Sotto follows.

/// How many bytes a variable-length integer takes, from its first byte.
pub fn len_of(first: u8) -> usize {
    1 << (first >> 6)
}

/// Reads one from the start of `buf`: (value, its length), or None if `buf` ends inside it.
pub fn read(buf: &[u8]) -> Option<(u64, usize)> {
    let len = len_of(*buf.first()?);
    let bytes = buf.get(..len)?;
    let v = bytes[1..].iter().fold(u64::from(bytes[0] & 0x3f), |v, b| (v << 8) | u64::from(*b));
    Some((v, len))
}

/// Appends `v` in its shortest form.
pub fn put(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn varints_round_trip() {
        for v in [0u64, 63, 64, 16383, 16384, 1 << 29, 1 << 40] {
            let mut b = Vec::new();
            super::put(&mut b, v);
            assert_eq!(b.len(), super::len_of(b[0]));
            assert_eq!(super::read(&b), Some((v, b.len())));
            assert_eq!(super::read(&b[..b.len() - 1]), None, "cut short");
        }
    }
}
