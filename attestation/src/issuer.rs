//! The development enclave's certificate authority: a P-384 root generated at start and a
//! short-lived leaf that signs attestation documents, as Nitro's per-enclave leaf does.
//!
//! Its documents have the exact Nitro format, so the client's verifier is the same one that
//! checks real hardware; only a profile that names this root trusts them.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use p384::ecdsa::signature::Signer;
use p384::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P384_SHA384,
};

use crate::cose::sign_es384;
use crate::AttestationDocument;

/// Why the development CA could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the development certificate authority: {0}")]
pub struct IssuerError(String);

fn err(e: impl std::fmt::Display) -> IssuerError {
    IssuerError(e.to_string())
}

/// Lifetime of a leaf certificate, like Nitro's (3 hours).
pub const LEAF_LIFETIME: Duration = Duration::from_secs(3 * 3600);
/// A leaf is replaced once less than this much of its life is left.
const LEAF_RENEW_MARGIN: Duration = Duration::from_secs(30 * 60);

struct Leaf {
    der: Vec<u8>,
    key: p384::ecdsa::SigningKey,
    not_after: SystemTime,
}

/// A development root and its current leaf.
pub struct DevelopmentIssuer {
    root_params: CertificateParams,
    root_key: KeyPair,
    root_der: Vec<u8>,
    root_pem: String,
    leaf: Mutex<Leaf>,
}

impl DevelopmentIssuer {
    /// Generates a fresh root and leaf; `now` dates them.
    pub fn generate(now: SystemTime) -> Result<Self, IssuerError> {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).map_err(err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.distinguished_name = name("Sotto development enclave root (not hardware-protected)");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = (now - Duration::from_secs(60)).into();
        params.not_after = (now + Duration::from_secs(365 * 24 * 3600)).into();
        let root = params.self_signed(&root_key).map_err(err)?;
        let root_der = root.der().to_vec();
        let root_pem = root.pem();
        let leaf = make_leaf(&params, &root_key, now)?;
        Ok(Self {
            root_params: params,
            root_key,
            root_der,
            root_pem,
            leaf: Mutex::new(leaf),
        })
    }

    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// Signs `doc` (whose `certificate` and `cabundle` are filled in here) as a COSE_Sign1.
    pub fn issue(&self, mut doc: AttestationDocument, now: SystemTime) -> Result<Vec<u8>, IssuerError> {
        let mut leaf = self.leaf.lock().map_err(|_| err("leaf lock poisoned"))?;
        if leaf.not_after < now + LEAF_RENEW_MARGIN {
            *leaf = make_leaf(&self.root_params, &self.root_key, now)?;
        }
        doc.certificate = leaf.der.clone();
        doc.cabundle = vec![self.root_der.clone()];
        let key = leaf.key.clone();
        Ok(sign_es384(doc.to_cbor(), move |tbs| {
            let sig: p384::ecdsa::Signature = key.sign(tbs);
            sig.to_bytes().to_vec()
        }))
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Sotto");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn make_leaf(root_params: &CertificateParams, root_key: &KeyPair, now: SystemTime) -> Result<Leaf, IssuerError> {
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name = name("Sotto development enclave");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let not_after = now + LEAF_LIFETIME;
    params.not_before = (now - Duration::from_secs(60)).into();
    params.not_after = not_after.into();
    let issuer = Issuer::from_params(root_params, root_key);
    let cert = params.signed_by(&leaf_key, &issuer).map_err(err)?;
    let key = p384::ecdsa::SigningKey::from_pkcs8_der(&leaf_key.serialize_der()).map_err(err)?;
    Ok(Leaf {
        der: cert.der().to_vec(),
        key,
        not_after,
    })
}
