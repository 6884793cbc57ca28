//! Sealing a request to the attested key (chunked OHTTP around Binary HTTP).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use sotto_enclave_protocol::media::INNER_AUTHORITY;
use sotto_enclave_protocol::padding;

use crate::chunk_framing::WholeLengthPrefixes;
use crate::InferenceError;

/// A response body, before or after decryption.
pub(crate) type BodyReader = Pin<Box<dyn AsyncRead + Send>>;
type Opener = Box<dyn Fn(BodyReader) -> Result<BodyReader, InferenceError> + Send + Sync>;

/// An encapsulated request, and what is needed to open its response.
pub struct SealedRequest {
    /// The Binary HTTP request that was sealed (the receipt's request hash covers it).
    pub plaintext: Vec<u8>,
    /// The bytes that leave the device.
    pub ciphertext: Vec<u8>,
    // The ohttp crate's stream types cannot be named outside it, so the response side is
    // kept as a closure over the request context.
    opener: Opener,
    /// The response nonce's length (set by the AEAD the request was sealed with).
    response_nonce_len: usize,
}

impl SealedRequest {
    /// Wraps the response body so it decrypts and authenticates chunk by chunk (through
    /// [`WholeLengthPrefixes`], which works around a bug in the `ohttp` reader).
    pub(crate) fn open(&self, body: BodyReader) -> Result<BodyReader, InferenceError> {
        (self.opener)(Box::pin(WholeLengthPrefixes::new(body, self.response_nonce_len)))
    }

    /// The `ohttp` reader alone, to show the bug the guard is for.
    #[cfg(test)]
    pub(crate) fn open_unguarded(&self, body: BodyReader) -> Result<BodyReader, InferenceError> {
        (self.opener)(body)
    }
}

/// The key configuration with HKDF-SHA256/AES-128-GCM moved to the front of its suites when it
/// offers that suite: the `ohttp` client takes the first suite listed, and its stream reader
/// cannot read replies under the others (see [`response_nonce_len`]). Choosing among the
/// suites an enclave offers is the client's to do (RFC 9458 §3); anything unexpected is left
/// as it is for `ohttp` to judge.
fn aes128_gcm_first(encoded: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const WANTED: [u8; 4] = [0, 1, 0, 1]; // KDF HKDF-SHA256, AEAD AES-128-GCM
    let Some(suites_at) = encoded
        .get(1..3)
        .and_then(|kem| ohttp::hpke::Kem::try_from(u16::from_be_bytes([kem[0], kem[1]])).ok())
        .map(|kem| 3 + kem.n_pk())
    else {
        return encoded.into();
    };
    let Some(suites) = encoded.get(suites_at + 2..).filter(|s| s.len() % 4 == 0) else {
        return encoded.into();
    };
    match suites.chunks(4).position(|suite| suite == WANTED) {
        None | Some(0) => encoded.into(),
        Some(i) => {
            let mut out = encoded[..suites_at + 2].to_vec();
            out.extend_from_slice(&WANTED);
            out.extend(suites.chunks(4).enumerate().filter(|(j, _)| *j != i).flat_map(|(_, suite)| suite.iter().copied()));
            out.into()
        }
    }
}

/// The response nonce's length for an encapsulated request: max(Nn, Nk) of the AEAD named in
/// its header (key id, KEM, KDF, AEAD; RFC 9458 §4.3). The `ohttp` stream reader (0.8.0) holds
/// a nonce of at most 16 bytes and panics on a longer one, so an AEAD that needs more (a key
/// offering only ChaCha20-Poly1305 or AES-256-GCM) is refused here, before anything is sent.
fn response_nonce_len(encapsulated: &[u8]) -> Result<usize, InferenceError> {
    const READER_HOLDS: usize = 16;
    let id = encapsulated
        .get(5..7)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| InferenceError::Seal("the sealed request has no header".into()))?;
    let aead = ohttp::hpke::Aead::try_from(id).map_err(|_| InferenceError::Seal(format!("the sealed request names an unknown AEAD ({id})")))?;
    let len = aead.n_n().max(aead.n_k());
    if len > READER_HOLDS {
        return Err(InferenceError::Seal(format!(
            "the enclave's key asks for {aead:?}, whose streamed replies Sotto cannot read yet (it needs AES-128-GCM)"
        )));
    }
    Ok(len)
}

/// Builds the inner Binary HTTP request and seals it to `key_config`.
/// `headers` go inside the seal (the relay never sees them).
pub async fn seal_request(
    key_config: &[u8],
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<SealedRequest, InferenceError> {
    let seal_err = |e: &dyn std::fmt::Display| InferenceError::Seal(e.to_string());
    let plaintext = padded_request(method, path, headers, body).map_err(|e| seal_err(&e))?;

    let sink = SharedSink::default();
    let mut writer = ohttp::ClientRequest::from_encoded_config(&aes128_gcm_first(key_config))
        .map_err(|e| seal_err(&e))?
        .encapsulate_stream(sink.clone())
        .map_err(|e| seal_err(&e))?;
    writer.write_all(&plaintext).await.map_err(|e| seal_err(&e))?;
    writer.close().await.map_err(|e| seal_err(&e))?;
    let ciphertext = sink.take();
    let response_nonce_len = response_nonce_len(&ciphertext)?;
    let opener: Opener = Box::new(move |body| {
        writer
            .response(body)
            .map(|r| Box::pin(r) as BodyReader)
            .map_err(|e| InferenceError::Seal(e.to_string()))
    });
    Ok(SealedRequest { plaintext, ciphertext, opener, response_nonce_len })
}

/// The header that carries the request's salt (ignored by the enclave).
const SALT_FIELD: &str = "sotto-salt";

/// The Binary HTTP request, padded with a `sotto-padding` header to its size bucket (a power of
/// two of at least 1 KiB), so the relay cannot tell a short prompt from a longer one.
fn padded_request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Vec<u8>, bhttp::Error> {
    // A random salt, inside the seal: the request's hash (in the receipt, in a hashes-only proof
    // file) cannot be used to confirm a guess of the conversation.
    let salt = hex::encode(rand::random::<[u8; 16]>());
    let encode = |pad: Option<usize>| -> Result<Vec<u8>, bhttp::Error> {
        let mut msg = bhttp::Message::request(
            method.as_bytes().to_vec(),
            b"https".to_vec(),
            INNER_AUTHORITY.as_bytes().to_vec(),
            path.as_bytes().to_vec(),
        );
        if !body.is_empty() {
            msg.put_header("content-type", "application/json");
        }
        for (name, value) in headers {
            msg.put_header(*name, value.as_bytes());
        }
        msg.put_header(SALT_FIELD, salt.as_bytes());
        if let Some(n) = pad {
            msg.put_header(padding::PADDING_FIELD, "0".repeat(n));
        }
        if !body.is_empty() {
            msg.write_content(body);
        }
        let mut out = Vec::new();
        msg.write_bhttp(bhttp::Mode::KnownLength, &mut out)?;
        Ok(out)
    };
    let bare = encode(None)?;
    let mut target = padding::request_bucket(bare.len() + 24);
    loop {
        // Start below the target (the field's own framing costs ~16 bytes) and close in; a
        // length prefix that grows past the target sends it to the next bucket.
        let mut n = target.saturating_sub(bare.len() + 24);
        loop {
            let out = encode(Some(n))?;
            if out.len() == target {
                return Ok(out);
            }
            if out.len() > target {
                break;
            }
            n += target - out.len();
        }
        target *= 2;
    }
}

/// A writer whose bytes can be taken out while the OHTTP sender (which owns it) lives on.
#[derive(Clone, Default)]
pub(crate) struct SharedSink(Arc<Mutex<Vec<u8>>>);

impl SharedSink {
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

impl AsyncWrite for SharedSink {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Err(_) => Poll::Ready(Err(std::io::Error::other("sink poisoned"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// For benchmarks: decrypt a whole chunked response held in memory.
pub async fn open_whole_response_for_bench(sealed: &SealedRequest, response: Vec<u8>) -> Result<Vec<u8>, InferenceError> {
    use futures::AsyncReadExt;
    let mut reader = sealed.open(Box::pin(futures::io::Cursor::new(response)))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.map_err(|e| crate::error::classify_io(&e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ohttp::hpke::{Aead, Kdf, Kem};

    /// An enclave that lists ChaCha20-Poly1305 before AES-128-GCM is sealed to with AES-128-GCM
    /// (whose replies the stream reader can read), and the enclave opens the request.
    #[test]
    fn a_key_offering_aes_128_gcm_second_is_sealed_with_it() {
        let suites = vec![
            ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305),
            ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm),
        ];
        let config = ohttp::KeyConfig::new(3, Kem::X25519Sha256, suites).unwrap();
        let encoded = config.encode().unwrap();
        let reordered = super::aes128_gcm_first(&encoded);
        assert_eq!(reordered.len(), encoded.len());
        assert_eq!(&reordered[reordered.len() - 8..], &[0, 1, 0, 1, 0, 1, 0, 3]);
        let sealed = futures::executor::block_on(super::seal_request(&encoded, "GET", "/v1/models", &[], b"")).expect("sealed");
        assert_eq!(&sealed.ciphertext[5..7], &[0, 1], "AES-128-GCM");
        let mut request = ohttp::Server::new(config).unwrap().decapsulate_stream(futures::io::Cursor::new(sealed.ciphertext.clone()));
        let mut plaintext = Vec::new();
        futures::executor::block_on(futures::AsyncReadExt::read_to_end(&mut request, &mut plaintext)).expect("the enclave opens it");
        assert_eq!(plaintext, sealed.plaintext);
        // Nothing to reorder, or nothing recognisable: the bytes are left as they are.
        let plain = ohttp::KeyConfig::new(1, Kem::X25519Sha256, vec![ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]).unwrap().encode().unwrap();
        assert_eq!(&*super::aes128_gcm_first(&plain), &plain[..]);
        assert_eq!(&*super::aes128_gcm_first(&[1, 0xff, 0xff, 7]), &[1, 0xff, 0xff, 7]);
        assert_eq!(&*super::aes128_gcm_first(&[]), &[] as &[u8]);
    }

    #[test]
    fn requests_of_different_lengths_pad_to_the_same_bucket() {
        let a = super::padded_request("POST", "/v1/chat/completions", &[], br#"{"messages":[{"role":"user","content":"hello"}]}"#).unwrap();
        let long = format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(500));
        let b = super::padded_request("POST", "/v1/chat/completions", &[], long.as_bytes()).unwrap();
        assert_eq!(a.len(), 1024);
        assert_eq!(b.len(), 1024);
        let again = super::padded_request("POST", "/v1/chat/completions", &[], br#"{"messages":[{"role":"user","content":"hello"}]}"#).unwrap();
        assert_ne!(a, again, "salted: the same conversation never seals to the same bytes twice");
        let c = super::padded_request("GET", "/v1/models", &[], b"").unwrap();
        assert_eq!(c.len(), 1024);
        let big = super::padded_request("POST", "/v1/chat/completions", &[], &vec![b' '; 3000]).unwrap();
        assert_eq!(big.len(), 4096);
        let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&b)).unwrap();
        assert_eq!(msg.content(), long.as_bytes());
    }
}
