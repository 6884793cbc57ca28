use std::collections::BTreeMap;

use ciborium::Value;

use crate::AttestationError;

/// The payload of a Nitro attestation document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationDocument {
    pub module_id: String,
    pub digest: String,
    pub timestamp_ms: u64,
    pub pcrs: BTreeMap<u16, Vec<u8>>,
    /// The enclave's leaf certificate (DER).
    pub certificate: Vec<u8>,
    /// Root first, then intermediates (DER), as Nitro sends them.
    pub cabundle: Vec<Vec<u8>>,
    pub public_key: Option<Vec<u8>>,
    pub user_data: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
}

fn malformed(what: impl Into<String>) -> AttestationError {
    AttestationError::Malformed(what.into())
}

impl AttestationDocument {
    /// Decodes the CBOR payload; any valid CBOR encoding of the structure is accepted.
    pub fn from_cbor(payload: &[u8]) -> Result<Self, AttestationError> {
        let value: Value = ciborium::from_reader(payload)
            .map_err(|e| malformed(format!("payload is not CBOR ({e})")))?;
        let Value::Map(entries) = value else {
            return Err(malformed("payload is not a CBOR map"));
        };
        let mut fields = BTreeMap::new();
        for (key, value) in entries {
            let Value::Text(key) = key else {
                return Err(malformed("payload has a non-text key"));
            };
            if fields.insert(key.clone(), value).is_some() {
                return Err(malformed(format!("field `{key}` appears twice")));
            }
        }
        let mut take = |name: &str| fields.remove(name);
        Ok(Self {
            module_id: text(take("module_id"), "module_id")?,
            digest: text(take("digest"), "digest")?,
            timestamp_ms: integer(take("timestamp"), "timestamp")?,
            pcrs: pcrs(take("pcrs"))?,
            certificate: bytes(take("certificate"), "certificate")?,
            cabundle: cabundle(take("cabundle"))?,
            public_key: optional_bytes(take("public_key"), "public_key")?,
            user_data: optional_bytes(take("user_data"), "user_data")?,
            nonce: optional_bytes(take("nonce"), "nonce")?,
        })
    }

    /// Encodes the payload in the field order Nitro's NSM uses.
    pub fn to_cbor(&self) -> Vec<u8> {
        let opt = |v: &Option<Vec<u8>>| v.clone().map(Value::Bytes).unwrap_or(Value::Null);
        let map = Value::Map(vec![
            (t("module_id"), Value::Text(self.module_id.clone())),
            (t("digest"), Value::Text(self.digest.clone())),
            (t("timestamp"), Value::Integer(self.timestamp_ms.into())),
            (
                t("pcrs"),
                Value::Map(
                    self.pcrs
                        .iter()
                        .map(|(i, v)| (Value::Integer((*i).into()), Value::Bytes(v.clone())))
                        .collect(),
                ),
            ),
            (t("certificate"), Value::Bytes(self.certificate.clone())),
            (
                t("cabundle"),
                Value::Array(self.cabundle.iter().cloned().map(Value::Bytes).collect()),
            ),
            (t("public_key"), opt(&self.public_key)),
            (t("user_data"), opt(&self.user_data)),
            (t("nonce"), opt(&self.nonce)),
        ]);
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = ciborium::into_writer(&map, &mut out);
        out
    }
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn required(v: Option<Value>, name: &str) -> Result<Value, AttestationError> {
    v.ok_or_else(|| malformed(format!("field `{name}` is missing")))
}

fn text(v: Option<Value>, name: &str) -> Result<String, AttestationError> {
    match required(v, name)? {
        Value::Text(s) => Ok(s),
        _ => Err(malformed(format!("field `{name}` is not text"))),
    }
}

fn integer(v: Option<Value>, name: &str) -> Result<u64, AttestationError> {
    match required(v, name)? {
        Value::Integer(i) => {
            u64::try_from(i).map_err(|_| malformed(format!("field `{name}` is out of range")))
        }
        _ => Err(malformed(format!("field `{name}` is not an integer"))),
    }
}

fn bytes(v: Option<Value>, name: &str) -> Result<Vec<u8>, AttestationError> {
    match required(v, name)? {
        Value::Bytes(b) => Ok(b),
        _ => Err(malformed(format!("field `{name}` is not a byte string"))),
    }
}

fn optional_bytes(v: Option<Value>, name: &str) -> Result<Option<Vec<u8>>, AttestationError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(_) => Err(malformed(format!("field `{name}` is not a byte string"))),
    }
}

fn pcrs(v: Option<Value>) -> Result<BTreeMap<u16, Vec<u8>>, AttestationError> {
    let Value::Map(entries) = required(v, "pcrs")? else {
        return Err(malformed("field `pcrs` is not a map"));
    };
    if entries.len() > 32 {
        return Err(malformed("field `pcrs` has more than 32 entries"));
    }
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let index = match k {
            Value::Integer(i) => u16::try_from(i).ok().filter(|i| *i < 32),
            _ => None,
        }
        .ok_or_else(|| malformed("a PCR index is not a number from 0 to 31"))?;
        let Value::Bytes(value) = v else {
            return Err(malformed(format!("PCR{index} is not a byte string")));
        };
        if ![32, 48, 64].contains(&value.len()) {
            return Err(malformed(format!("PCR{index} has {} bytes", value.len())));
        }
        out.insert(index, value);
    }
    Ok(out)
}

fn cabundle(v: Option<Value>) -> Result<Vec<Vec<u8>>, AttestationError> {
    let Value::Array(items) = required(v, "cabundle")? else {
        return Err(malformed("field `cabundle` is not an array"));
    };
    if items.is_empty() || items.len() > 8 {
        return Err(malformed("field `cabundle` must hold 1 to 8 certificates"));
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Bytes(b) => Ok(b),
            _ => Err(malformed("a `cabundle` entry is not a byte string")),
        })
        .collect()
}
