use std::collections::BTreeMap;
use std::time::SystemTime;

use sotto_attestation::issuer::DevelopmentIssuer;
use sotto_attestation::AttestationDocument;

use super::{AttestError, Attester};

/// Signs documents with a development root generated at start. Not hardware-protected: the
/// PCRs are what this process computed about itself, and the key is in ordinary memory.
pub struct DevelopmentAttester {
    issuer: DevelopmentIssuer,
    module_id: String,
    pcrs: BTreeMap<u16, Vec<u8>>,
}

impl DevelopmentAttester {
    pub fn new(pcrs: BTreeMap<u16, Vec<u8>>) -> Result<Self, AttestError> {
        let issuer = DevelopmentIssuer::generate(SystemTime::now()).map_err(|e| AttestError(e.to_string()))?;
        let module_id = format!("sotto-dev-enclave-{}", hex::encode(rand::random::<[u8; 8]>()));
        Ok(Self { issuer, module_id, pcrs })
    }

    pub fn root_pem(&self) -> &str {
        self.issuer.root_pem()
    }
}

impl Attester for DevelopmentAttester {
    fn format(&self) -> &'static str {
        "development"
    }

    fn attest(&self, user_data: &[u8], nonce: &[u8]) -> Result<Vec<u8>, AttestError> {
        let doc = AttestationDocument {
            module_id: self.module_id.clone(),
            digest: "SHA384".into(),
            timestamp_ms: crate::now_ms(),
            pcrs: self.pcrs.clone(),
            certificate: Vec::new(),
            cabundle: Vec::new(),
            public_key: None,
            user_data: Some(user_data.to_vec()),
            nonce: Some(nonce.to_vec()),
        };
        self.issuer
            .issue(doc, SystemTime::now())
            .map_err(|e| AttestError(e.to_string()))
    }
}
