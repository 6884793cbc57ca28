//! Reading an upstream's answer (a model server, an image service, a search provider, a web
//! page) without letting it fill the enclave's memory. Each caller says what went wrong in its
//! own words.

/// Why an upstream's answer could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection broke off (or the body could not be decoded).
    Broke(reqwest::Error),
    /// It went on past the limit.
    TooLarge,
}

/// The whole answer, refused as soon as it passes `max` bytes.
pub(crate) async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(piece) = response.chunk().await.map_err(BodyError::Broke)? {
        if out.len() + piece.len() > max {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// The first `limit` bytes of an answer (an error page may be long; its start says why); what
/// came before a break is kept.
pub(crate) async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(piece)) = response.chunk().await {
        out.extend_from_slice(&piece[..piece.len().min(limit - out.len())]);
        if out.len() >= limit {
            break;
        }
    }
    out
}
