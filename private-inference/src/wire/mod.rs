//! The wires a client speaks besides Sotto's own (which lives in `attest`, `seal` and `reply`):
//! how a request is sealed, how a reply is opened and what its receipt covers. The client's
//! flow (discover or attest, seal, send through a relay, authenticate each piece, verify the
//! receipt, withdraw on failure) and its events are the same for every wire.

pub mod opengradient;
