//! Network profiles: which relays to use, which enclave to talk to, and what that enclave must
//! prove about itself (trust roots, expected measurements, freshness).
//!
//! A profile is a TOML file. [`Profile::load`] parses it and validates every field, so that a
//! mistake is reported once, at load, in words a person can act on.

mod error;
mod home;
mod measurements;
mod profile;

pub use error::ProfileError;
pub use home::{expand_home, sotto_cache, sotto_home, stack_dir};
pub use measurements::{parse_pcr_hex, Measurements, Pcr};
pub use profile::{check_relay_url, EnclaveKind, EnclaveSpec, LocalStack, OpenGradientSpec, Profile, Relay, Timeouts};

/// The AWS Nitro Enclaves root certificate (G1), shipped with the app.
pub const AWS_NITRO_ROOT_G1_PEM: &str = include_str!("../aws-nitro-root-g1.pem");

/// SHA-256 of the DER of [`AWS_NITRO_ROOT_G1_PEM`], as AWS publishes it.
pub const AWS_NITRO_ROOT_G1_SHA256: &str =
    "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B";

/// The local profile as shipped (the source of `relay-config/local.toml`).
pub const LOCAL_PROFILE_TOML: &str = include_str!("../local.toml");

/// OpenGradient's public network (the defaults of its `opengradient` SDK).
pub const OPENGRADIENT_PROFILE_TOML: &str = include_str!("../opengradient.toml");

/// The nginx relay configuration template (see `nginx/relay.conf.template`).
pub const NGINX_RELAY_TEMPLATE: &str = include_str!("../nginx/relay.conf.template");
