use sha2::{Digest, Sha384};

/// Length of a SHA-384 PCR.
pub const PCR_LEN: usize = 48;

/// Extends a PCR the way Nitro's measurement registers do: `PCR' = SHA-384(PCR ‖ data)`.
pub fn extend_pcr(pcr: &[u8; PCR_LEN], data: &[u8]) -> [u8; PCR_LEN] {
    let mut h = Sha384::new();
    h.update(pcr);
    h.update(data);
    h.finalize().into()
}

/// The measurement of one artefact, as nitro-cli computes a PCR from an image section: a zero
/// register extended once with the artefact's bytes.
pub fn measure(data: &[u8]) -> [u8; PCR_LEN] {
    extend_pcr(&[0u8; PCR_LEN], data)
}

/// [`measure`] over a file, read in pieces (a model or a binary need not sit in memory).
pub fn measure_file(path: &std::path::Path) -> std::io::Result<[u8; PCR_LEN]> {
    let mut h = Sha384::new();
    h.update([0u8; PCR_LEN]);
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measuring_is_an_extend_of_the_zero_register() {
        let mut h = Sha384::new();
        h.update([0u8; PCR_LEN]);
        h.update(b"image");
        let expected: [u8; PCR_LEN] = h.finalize().into();
        assert_eq!(measure(b"image"), expected);
        assert_ne!(measure(b"image"), measure(b"imagf"));
    }

    #[test]
    fn measuring_a_file_equals_measuring_its_bytes() {
        let path = std::env::temp_dir().join(format!("sotto-measure-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 100_000]).unwrap();
        assert_eq!(measure_file(&path).unwrap(), measure(&[7u8; 100_000]));
        let _ = std::fs::remove_file(&path);
    }
}
