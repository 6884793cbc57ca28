use sotto_attestation::AttestationError;
use sotto_enclave_protocol::ReceiptError;
use sotto_relay_config::ProfileError;

/// Why no verified reply could be given. Every message is meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error("no relay could be reached (tried {tried}); is the local stack running? Start it with `sotto stack up`")]
    RelayUnreachable { tried: String },
    #[error("relay {relay} answered HTTP {status}: {detail}")]
    RelayRefused { relay: String, status: u16, detail: String },
    #[error("the enclave could not be verified, so nothing was sent: {0}")]
    Attestation(#[from] AttestationError),
    #[error("the enclave's attestation bundle is unusable, so nothing was sent: {0}")]
    Bundle(String),
    #[error("the reply failed authentication: it was altered on the way (no text from it is shown)")]
    Tampered,
    #[error("the reply was cut off before the enclave finished it")]
    Truncated,
    #[error("the enclave stopped sending for {secs} s; the reply was abandoned")]
    Stalled { secs: u64 },
    #[error("the enclave did not start answering within {secs} s")]
    NoAnswer { secs: u64 },
    #[error("the enclave's receipt does not check out: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("the enclave reported an error: {0}")]
    Enclave(String),
    #[error("the enclave refused the request (HTTP {status}): {message}")]
    EnclaveStatus { status: u16, message: String },
    #[error("the reply is not in the expected format: {0}")]
    Malformed(String),
    #[error("the request could not be sealed: {0}")]
    Seal(String),
    #[error("OpenGradient's TEE registry: {0}, so nothing was sent")]
    Registry(String),
    #[error("the TEE's receipt does not check out: {0}")]
    TeeReceipt(#[from] sotto_enclave_protocol::opengradient::receipt::TeeReceiptError),
    #[error("{0}")]
    Request(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("relay {relay} refused the request (HTTP 401): log in with `sotto og login` (or set SOTTO_OG_TOKEN)")]
    LoginNeeded { relay: String },
}

impl InferenceError {
    /// True for failures of the attestation step, which happen before anything is sent.
    pub fn before_sending(&self) -> bool {
        matches!(self, Self::Attestation(_) | Self::Bundle(_) | Self::Profile(_) | Self::Registry(_) | Self::Request(_) | Self::Unsupported(_))
    }
}

/// Maps a failure inside the decrypting reader to what it means: an AEAD failure is
/// tampering; an early end is truncation. The cause sits several wrappers deep (the reply
/// reader wraps bhttp, which wraps ohttp, which wraps the HTTP body), so unwrap them all.
pub(crate) fn classify_io(e: &std::io::Error) -> InferenceError {
    classify_dyn(e).unwrap_or_else(|| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            InferenceError::Truncated
        } else {
            InferenceError::Malformed(e.to_string())
        }
    })
}

fn classify_dyn(err: &(dyn std::error::Error + 'static)) -> Option<InferenceError> {
    if let Some(o) = err.downcast_ref::<ohttp::Error>() {
        return Some(match o {
            ohttp::Error::Aead(_) | ohttp::Error::ExtraData | ohttp::Error::ChunkTooLarge => InferenceError::Tampered,
            ohttp::Error::Truncated => InferenceError::Truncated,
            ohttp::Error::Io(inner) => return classify_dyn(inner),
            other => InferenceError::Malformed(other.to_string()),
        });
    }
    if let Some(b) = err.downcast_ref::<bhttp::Error>() {
        return match b {
            bhttp::Error::Truncated => Some(InferenceError::Truncated),
            bhttp::Error::Io(inner) => classify_dyn(inner),
            _ => None,
        };
    }
    if err.downcast_ref::<reqwest::Error>().is_some() {
        return Some(InferenceError::Truncated);
    }
    // `io::Error::source` skips the error it wraps, so look inside it first.
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        if let Some(found) = io.get_ref().and_then(|inner| classify_dyn(inner)) {
            return Some(found);
        }
        if io.kind() == std::io::ErrorKind::UnexpectedEof {
            return Some(InferenceError::Truncated);
        }
    }
    err.source().and_then(classify_dyn)
}

pub(crate) fn classify_bhttp(e: bhttp::Error) -> InferenceError {
    classify_dyn(&e).unwrap_or_else(|| InferenceError::Malformed(e.to_string()))
}

impl From<sotto_enclave_protocol::opengradient::ohttp::OhttpError> for InferenceError {
    fn from(e: sotto_enclave_protocol::opengradient::ohttp::OhttpError) -> Self {
        use sotto_enclave_protocol::opengradient::ohttp::OhttpError as E;
        match e {
            E::Tampered => Self::Tampered,
            E::Truncated => Self::Truncated,
            E::Malformed(m) => Self::Malformed(m),
            other => Self::Seal(other.to_string()),
        }
    }
}
