//! The private path, client side.
//!
//! 1. [`attest`]: fetch the enclave's attestation bundle through a relay with a fresh nonce
//!    (a `GET`, nothing of the user's is sent) and verify it against the profile: vendor chain,
//!    PCRs, nonce, age, and that `user_data` binds the OHTTP key and receipt key offered.
//! 2. [`seal`]: encapsulate a Binary HTTP request with chunked OHTTP to the attested key.
//! 3. [`reply`]: decrypt the chunked response, authenticate each chunk before handing any text
//!    on, and verify the enclave's receipt at the end.
//!
//! A profile of OpenGradient's network uses [`wire::opengradient`] for steps 1–5 instead: TEEs
//! from its registry, its OHTTP wire with JSON inside, RSA-PSS receipts.
//!
//! Image generation ([`images`]) rides the same path: its reply is one more content verified by
//! the same receipt code, and each image is checked against the hashes the receipt covers.
//!
//! [`PrivateClient`] ties these together with a cache of the verified key and relay fail-over.
//! Nothing unverified is returned: any error after text was handed on means *withdraw it*.

mod attest;
mod bhttp_guard;
mod chunk_framing;
mod client;
mod clock;
mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod images;
pub mod ledger;
pub mod proof;
mod registry;
mod reply;
mod seal;
mod transport;
mod wire;

pub use attest::{AttestationEvidence, AttestedEnclave, EnclaveIdentity, ATTESTED_DEVELOPMENT, ATTESTED_HERE, KEYS_FROM_REGISTRY, MODEL_IN_ENCLAVE, PROVIDER_PROXY};
pub use wire::opengradient::TokenSource;
pub use client::{ClientOptions, ModelInfo, ModelKind, PrivateClient};
pub use clock::{Clock, FixedOffsetClock, SystemClock};
pub use error::InferenceError;
pub use reply::{Progress, ReplyEvent, ReplyStream, VerifiedReply};
pub use seal::{open_whole_response_for_bench, seal_request, SealedRequest};
