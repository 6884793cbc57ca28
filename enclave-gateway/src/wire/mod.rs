//! The wires the gateway speaks besides Sotto's own (`resource`, `inner`).

pub mod opengradient;
