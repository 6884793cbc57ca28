use coset::{iana, CborSerializable, CoseSign1, RegisteredLabelWithPrivate};

use crate::AttestationError;

/// A parsed COSE_Sign1 envelope whose algorithm is ES384.
pub(crate) struct Es384Envelope {
    sign1: CoseSign1,
}

impl Es384Envelope {
    /// Parses tagged or untagged COSE_Sign1 and insists on ES384 in the protected header.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, AttestationError> {
        let sign1 = CoseSign1::from_slice(bytes)
            .or_else(|_| {
                use coset::TaggedCborSerializable;
                CoseSign1::from_tagged_slice(bytes)
            })
            .map_err(|e| AttestationError::Malformed(format!("not a COSE_Sign1 structure ({e})")))?;
        match &sign1.protected.header.alg {
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384)) => {}
            Some(other) => {
                return Err(AttestationError::UnsupportedAlgorithm(algorithm_name(other)))
            }
            None => return Err(AttestationError::UnsupportedAlgorithm("no algorithm".into())),
        }
        if sign1.payload.is_none() {
            return Err(AttestationError::Malformed("the COSE payload is missing".into()));
        }
        if sign1.signature.len() != 96 {
            return Err(AttestationError::Malformed(format!(
                "an ES384 signature is 96 bytes, this one has {}",
                sign1.signature.len()
            )));
        }
        Ok(Self { sign1 })
    }

    pub(crate) fn payload(&self) -> &[u8] {
        self.sign1.payload.as_deref().unwrap_or_default()
    }

    /// The bytes that were signed (the COSE Sig_structure) and the raw r‖s signature.
    pub(crate) fn signed_bytes(&self) -> (Vec<u8>, &[u8]) {
        (self.sign1.tbs_data(b""), &self.sign1.signature)
    }
}

fn algorithm_name(alg: &coset::Algorithm) -> String {
    match alg {
        RegisteredLabelWithPrivate::Assigned(a) => format!("{a:?}"),
        RegisteredLabelWithPrivate::PrivateUse(i) => format!("private algorithm {i}"),
        RegisteredLabelWithPrivate::Text(t) => format!("algorithm `{t}`"),
    }
}

/// Builds an untagged COSE_Sign1 with ES384, signing with `sign` (which returns raw r‖s).
#[cfg(feature = "issuer")]
pub(crate) fn sign_es384(payload: Vec<u8>, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let protected = coset::HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES384)
        .build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", sign)
        .build();
    sign1.to_vec().unwrap_or_default()
}
