use aws_nitro_enclaves_nsm_api::api::{Request, Response};
use aws_nitro_enclaves_nsm_api::driver;
use serde_bytes::ByteBuf;

use super::{AttestError, Attester};

/// Asks the Nitro Secure Module (`/dev/nsm`) inside a real enclave for a document. The
/// hardware fills in the PCRs and signs with AWS's chain; we only supply the binding.
pub struct NsmAttester {
    fd: i32,
}

impl NsmAttester {
    pub fn open() -> Result<Self, AttestError> {
        let fd = driver::nsm_init();
        if fd < 0 {
            return Err(AttestError("cannot open /dev/nsm: not inside a Nitro enclave".into()));
        }
        Ok(Self { fd })
    }
}

impl Attester for NsmAttester {
    fn format(&self) -> &'static str {
        "aws-nitro"
    }

    fn attest(&self, user_data: &[u8], nonce: &[u8]) -> Result<Vec<u8>, AttestError> {
        let request = Request::Attestation {
            user_data: Some(ByteBuf::from(user_data.to_vec())),
            nonce: Some(ByteBuf::from(nonce.to_vec())),
            public_key: None,
        };
        match driver::nsm_process_request(self.fd, request) {
            Response::Attestation { document } => Ok(document),
            Response::Error(code) => Err(AttestError(format!("the NSM refused: {code:?}"))),
            _ => Err(AttestError("the NSM sent an unexpected answer".into())),
        }
    }
}

impl Drop for NsmAttester {
    fn drop(&mut self) {
        driver::nsm_exit(self.fd);
    }
}
