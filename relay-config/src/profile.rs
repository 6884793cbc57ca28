use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::home::expand_home;
use crate::measurements::{parse_pcr_hex, Measurements};
use crate::ProfileError;

/// What kind of evidence the enclave presents, and so what the app tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnclaveKind {
    /// AWS Nitro Enclaves hardware, verified to the AWS root.
    AwsNitro,
    /// A development enclave signed by a locally generated root: not hardware-protected.
    Development,
}

/// A relay the client may use, in order of preference.
#[derive(Debug, Clone)]
pub struct Relay {
    pub name: String,
    pub url: Url,
}

/// The enclave behind the relays and what it must prove.
#[derive(Debug, Clone)]
pub struct EnclaveSpec {
    pub kind: EnclaveKind,
    pub gateway_path: String,
    pub attestation_path: String,
    pub trust_root_files: Vec<PathBuf>,
    pub expected_pcrs: Measurements,
    pub max_document_age: Duration,
    pub key_cache: Duration,
}

#[derive(Debug, Clone)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub stall: Duration,
}

/// Where `sotto stack up` puts the gateway (only for profiles of a local stack).
#[derive(Debug, Clone)]
pub struct LocalStack {
    pub gateway_listen: String,
    pub admin_listen: String,
    /// The registry stand-in of `stack up --flavor opengradient`.
    pub registry_listen: String,
}

/// A validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: PathBuf,
    pub relays: Vec<Relay>,
    /// Sotto's own attested enclave (`[enclave]`); `None` for an OpenGradient profile.
    pub enclave: EnclaveSpec,
    /// Set for a profile of OpenGradient's network (`[opengradient]`): TEEs come from its
    /// registry and speak its wire. `enclave` is then unused.
    pub opengradient: Option<OpenGradientSpec>,
    pub timeouts: Timeouts,
    pub local_stack: Option<LocalStack>,
}

/// OpenGradient's network: where its TEE registry is read, and optional pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGradientSpec {
    pub rpc_url: Url,
    /// The registry contract, 20 bytes.
    pub registry_address: [u8; 20],
    pub tee_type: u8,
    /// keccak256(PCR0 ‖ PCR1 ‖ PCR2) every TEE must have.
    pub pcr_hash: Option<[u8; 32]>,
    /// The one TEE to use (`0x` + 64 hex).
    pub tee_id: Option<String>,
    /// How long a registry listing is used before it is read again.
    pub refresh: Duration,
    /// The model asked for when a request names none (`sotto ask` without `--model`).
    pub model: Option<String>,
    /// Refuse a TEE whose attestation cannot be fetched through the relay (default: use the
    /// registry's keys and say so on every reply).
    pub require_attestation: bool,
    /// Roots a TEE's attestation document (fetched through the relay) must chain to; the AWS
    /// Nitro root unless the profile names others (the offline stand-in names its own).
    pub attestation_roots: Vec<PathBuf>,
}

impl OpenGradientSpec {
    /// The attestation roots' PEM text.
    pub fn attestation_roots_pem(&self) -> Result<Vec<String>, ProfileError> {
        read_roots(&self.attestation_roots)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    relays: Vec<RawRelay>,
    enclave: Option<RawEnclave>,
    opengradient: Option<RawOpenGradient>,
    #[serde(default)]
    timeouts: RawTimeouts,
    local_stack: Option<RawLocalStack>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelay {
    name: Option<String>,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnclave {
    kind: EnclaveKind,
    #[serde(default = "default_gateway_path")]
    gateway_path: String,
    #[serde(default = "default_attestation_path")]
    attestation_path: String,
    trust_roots: Vec<String>,
    measurements_file: Option<String>,
    #[serde(default)]
    expected_pcrs: BTreeMap<String, String>,
    #[serde(default = "default_max_age")]
    max_document_age_s: u64,
    #[serde(default = "default_key_cache")]
    key_cache_s: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpenGradient {
    rpc_url: String,
    registry_address: String,
    #[serde(default)]
    tee_type: u8,
    pcr_hash: Option<String>,
    tee_id: Option<String>,
    #[serde(default = "default_registry_refresh")]
    refresh_s: u64,
    attestation_roots: Option<Vec<String>>,
    model: Option<String>,
    #[serde(default)]
    require_attestation: bool,
}

fn default_registry_refresh() -> u64 {
    300
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    connect_s: Option<u64>,
    first_byte_s: Option<u64>,
    stall_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalStack {
    gateway_listen: String,
    admin_listen: String,
    registry_listen: Option<String>,
}

fn default_gateway_path() -> String {
    "/gateway".into()
}
fn default_attestation_path() -> String {
    "/attestation".into()
}
fn default_max_age() -> u64 {
    120
}
fn default_key_cache() -> u64 {
    600
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates profile text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        Self::parse_with(text, path, true)
    }

    /// Validates everything but the measurements, which may not exist yet: `sotto stack up`
    /// reads its listen addresses from a profile whose measurements the gateway is about to
    /// write.
    pub fn parse_structure(text: &str, path: &Path) -> Result<Self, ProfileError> {
        Self::parse_with(text, path, false)
    }

    fn parse_with(text: &str, path: &Path, measurements: bool) -> Result<Self, ProfileError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| ProfileError::Syntax {
            path: path.to_owned(),
            message: e.message().to_string(),
        })?;
        Validator { path, measurements }.profile(raw)
    }

    /// The expected PCRs with one value replaced (as `--expect-pcr N=HEX` does).
    pub fn override_pcr(&mut self, index: u16, value: Vec<u8>) {
        self.enclave.expected_pcrs.0.insert(index, value);
    }

    /// Reads the trust roots' PEM text.
    pub fn trust_roots_pem(&self) -> Result<Vec<String>, ProfileError> {
        read_roots(&self.enclave.trust_root_files)
    }
}

struct Validator<'a> {
    path: &'a Path,
    measurements: bool,
}

impl Validator<'_> {
    fn invalid(&self, field: &str, problem: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            path: self.path.to_owned(),
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    fn base(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn profile(&self, raw: RawProfile) -> Result<Profile, ProfileError> {
        if raw.name.trim().is_empty() {
            return Err(self.invalid("name", "must not be empty"));
        }
        let relays = self.relays(raw.relays)?;
        let (enclave, opengradient) = match (raw.enclave, raw.opengradient) {
            (Some(e), None) => (self.enclave(e)?, None),
            (None, Some(og)) => (EnclaveSpec::unused(), Some(self.opengradient(og)?)),
            (Some(_), Some(_)) => return Err(self.invalid("opengradient", "a profile has either [enclave] or [opengradient], not both")),
            (None, None) => return Err(self.invalid("enclave", "missing: give [enclave] (Sotto's enclave) or [opengradient] (OpenGradient's network)")),
        };
        let timeouts = self.timeouts(raw.timeouts)?;
        let local_stack = raw
            .local_stack
            .map(|s| self.local_stack(s, &relays))
            .transpose()?;
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            source: self.path.to_owned(),
            relays,
            enclave,
            opengradient,
            timeouts,
            local_stack,
        })
    }

    fn relays(&self, raw: Vec<RawRelay>) -> Result<Vec<Relay>, ProfileError> {
        if raw.is_empty() {
            return Err(self.invalid("relays", "at least one relay is needed"));
        }
        raw.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let field = format!("relays[{i}].url");
                let url = Url::parse(&r.url)
                    .map_err(|e| self.invalid(&field, format!("`{}` is not a URL ({e})", r.url)))?;
                if url.scheme() != "http" && url.scheme() != "https" {
                    return Err(self.invalid(&field, "must start with http:// or https://"));
                }
                if url.host_str().is_none() {
                    return Err(self.invalid(&field, "has no host"));
                }
                // In the clear, anyone on the path could redirect the sealed request or see
                // its size and timing next to the user's address; only loopback may skip TLS.
                if url.scheme() == "http" && !is_loopback(&url) {
                    return Err(self.invalid(&field, "must use https:// (http:// only for a relay on this machine)"));
                }
                let name = r
                    .name
                    .unwrap_or_else(|| url.host_str().unwrap_or("relay").to_string());
                Ok(Relay { name, url })
            })
            .collect()
    }

    fn enclave(&self, raw: RawEnclave) -> Result<EnclaveSpec, ProfileError> {
        for (field, value) in [
            ("enclave.gateway_path", &raw.gateway_path),
            ("enclave.attestation_path", &raw.attestation_path),
        ] {
            if !value.starts_with('/') {
                return Err(self.invalid(field, "must start with /"));
            }
        }
        if raw.trust_roots.is_empty() {
            return Err(self.invalid("enclave.trust_roots", "at least one trust root is needed"));
        }
        if raw.max_document_age_s == 0 || raw.max_document_age_s > 3600 {
            return Err(self.invalid(
                "enclave.max_document_age_s",
                "must be between 1 and 3600 seconds",
            ));
        }
        // `now + key_cache` must not overflow the clock; a day is already a long time to trust a key.
        if raw.key_cache_s > 86_400 {
            return Err(self.invalid("enclave.key_cache_s", "must be at most 86400 seconds (a day)"));
        }
        let base = self.base();
        let trust_root_files = raw
            .trust_roots
            .iter()
            .map(|r| resolve_root(r, &base))
            .collect();
        let mut expected = match &raw.measurements_file {
            Some(file) if self.measurements => Measurements::load(&expand_home(file, &base))?,
            _ => Measurements::default(),
        };
        for (key, value) in &raw.expected_pcrs {
            let field = format!("enclave.expected_pcrs.{key}");
            let index: u16 = key
                .parse()
                .map_err(|_| self.invalid(&field, "the key must be a PCR number"))?;
            let pcr = parse_pcr_hex(value).map_err(|e| self.invalid(&field, e))?;
            expected.0.insert(index, pcr);
        }
        if raw.kind == EnclaveKind::AwsNitro {
            // Hardware is only proven by AWS's root; another root would make a software
            // enclave look hardware-protected.
            if raw.trust_roots.iter().any(|r| r != "aws-nitro-root-g1") {
                return Err(self.invalid("enclave.trust_roots", "an aws-nitro profile trusts only the AWS Nitro root (\"aws-nitro-root-g1\")"));
            }
            // PCR0–2 say which code runs; all zeros is what a debug-mode enclave reports.
            for i in 0..=2u16 {
                match expected.0.get(&i) {
                    Some(v) if v.iter().any(|b| *b != 0) => {}
                    Some(_) => return Err(self.invalid(&format!("enclave.expected_pcrs.{i}"), "is all zeros, the value of a debug-mode enclave")),
                    None if !self.measurements && raw.measurements_file.is_some() => {}
                    None => return Err(self.invalid("enclave.expected_pcrs", format!("an aws-nitro profile must expect PCR{i} (PCR0–2 identify the code)"))),
                }
            }
        }
        if expected.0.is_empty() && (self.measurements || raw.measurements_file.is_none()) {
            return Err(self.invalid(
                "enclave",
                "no expected measurements: give measurements_file or expected_pcrs",
            ));
        }
        Ok(EnclaveSpec {
            kind: raw.kind,
            gateway_path: raw.gateway_path,
            attestation_path: raw.attestation_path,
            trust_root_files,
            expected_pcrs: expected,
            max_document_age: Duration::from_secs(raw.max_document_age_s),
            key_cache: Duration::from_secs(raw.key_cache_s),
        })
    }

    fn opengradient(&self, raw: RawOpenGradient) -> Result<OpenGradientSpec, ProfileError> {
        let rpc_url = Url::parse(&raw.rpc_url)
            .ok()
            .filter(|u| u.host_str().is_some())
            .ok_or_else(|| self.invalid("opengradient.rpc_url", format!("`{}` is not a URL", raw.rpc_url)))?;
        // The registry's answer decides which key a prompt is sealed to: no plain http off this machine.
        check_relay_url(&rpc_url).map_err(|why| self.invalid("opengradient.rpc_url", why))?;
        let registry_address = fixed_hex::<20>(&raw.registry_address)
            .ok_or_else(|| self.invalid("opengradient.registry_address", "must be 0x and 40 hex digits"))?;
        let pcr_hash = raw
            .pcr_hash
            .map(|h| fixed_hex::<32>(&h).ok_or_else(|| self.invalid("opengradient.pcr_hash", "must be 0x and 64 hex digits")))
            .transpose()?;
        let tee_id = raw
            .tee_id
            .map(|t| {
                fixed_hex::<32>(&t)
                    .map(|b| format!("0x{}", hex::encode(b)))
                    .ok_or_else(|| self.invalid("opengradient.tee_id", "must be 0x and 64 hex digits"))
            })
            .transpose()?;
        if raw.refresh_s == 0 || raw.refresh_s > 86_400 {
            return Err(self.invalid("opengradient.refresh_s", "must be between 1 and 86400 seconds"));
        }
        let base = self.base();
        let attestation_roots = raw
            .attestation_roots
            .unwrap_or_else(|| vec!["aws-nitro-root-g1".into()])
            .iter()
            .map(|r| resolve_root(r, &base))
            .collect();
        Ok(OpenGradientSpec {
            rpc_url,
            registry_address,
            tee_type: raw.tee_type,
            pcr_hash,
            tee_id,
            refresh: Duration::from_secs(raw.refresh_s),
            model: raw.model.filter(|m| !m.trim().is_empty()),
            require_attestation: raw.require_attestation,
            attestation_roots,
        })
    }

    fn timeouts(&self, raw: RawTimeouts) -> Result<Timeouts, ProfileError> {
        let secs = |v: Option<u64>, default: u64, field: &str| match v.unwrap_or(default) {
            0 => Err(self.invalid(field, "must be at least 1 second")),
            s => Ok(Duration::from_secs(s)),
        };
        Ok(Timeouts {
            connect: secs(raw.connect_s, 5, "timeouts.connect_s")?,
            first_byte: secs(raw.first_byte_s, 120, "timeouts.first_byte_s")?,
            stall: secs(raw.stall_s, 30, "timeouts.stall_s")?,
        })
    }

    fn local_stack(&self, raw: RawLocalStack, relays: &[Relay]) -> Result<LocalStack, ProfileError> {
        let registry_listen = raw.registry_listen.unwrap_or_else(|| "127.0.0.1:8790".into());
        let mut addrs = Vec::new();
        for (field, value) in [
            ("local_stack.gateway_listen", &raw.gateway_listen),
            ("local_stack.admin_listen", &raw.admin_listen),
            ("local_stack.registry_listen", &registry_listen),
        ] {
            let addr = value
                .parse::<std::net::SocketAddr>()
                .map_err(|_| self.invalid(field, format!("`{value}` is not an address:port")))?;
            addrs.push((field, addr.port()));
        }
        // The stack's relay listens on the first relay's port; the three must not collide, or
        // one process would answer for another.
        if let Some(port) = relays.first().and_then(|r| r.url.port_or_known_default()) {
            addrs.push(("relays[0].url", port));
        }
        for (i, (field, port)) in addrs.iter().enumerate() {
            if let Some((other, _)) = addrs[..i].iter().find(|(_, p)| p == port) {
                return Err(self.invalid(field, format!("port {port} is also used by {other}")));
            }
        }
        Ok(LocalStack {
            gateway_listen: raw.gateway_listen,
            admin_listen: raw.admin_listen,
            registry_listen,
        })
    }
}

impl EnclaveSpec {
    /// What an OpenGradient profile carries in place of an enclave it does not attest this way.
    fn unused() -> Self {
        Self {
            kind: EnclaveKind::AwsNitro,
            gateway_path: String::new(),
            attestation_path: String::new(),
            trust_root_files: Vec::new(),
            expected_pcrs: Measurements::default(),
            max_document_age: Duration::from_secs(default_max_age()),
            key_cache: Duration::from_secs(default_key_cache()),
        }
    }
}

/// Whether a relay URL may be used: https, or http to this machine only.
pub fn check_relay_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("must use https:// (http:// only for a relay on this machine)".into()),
        _ => Err("must start with https:// (or http:// on this machine)".into()),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `0x`-prefixed (or bare) hex of exactly N bytes.
fn fixed_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    hex::decode(s).ok().and_then(|v| v.try_into().ok())
}

fn read_roots(files: &[PathBuf]) -> Result<Vec<String>, ProfileError> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "aws-nitro-root-g1" {
                return Ok(crate::AWS_NITRO_ROOT_G1_PEM.to_string());
            }
            std::fs::read_to_string(path).map_err(|source| ProfileError::TrustRoot { path: path.clone(), source })
        })
        .collect()
}

/// `aws-nitro-root-g1` names the root shipped with the app; anything else is a path.
fn resolve_root(raw: &str, base: &Path) -> PathBuf {
    if raw == "aws-nitro-root-g1" {
        // The root is embedded in the binary (an installed copy has no source tree).
        return PathBuf::from("aws-nitro-root-g1");
    }
    expand_home(raw, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCR: &str = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";

    fn profile(relays: &str, extra: &str) -> String {
        format!(
            "name = \"t\"\n{relays}\n[enclave]\nkind = \"development\"\ntrust_roots = [\"root.pem\"]\n{extra}\n"
        )
    }

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, Path::new("/p/test.toml"))
    }

    #[test]
    fn a_minimal_profile_loads_with_defaults() {
        let text = profile(
            "[[relays]]\nurl = \"http://127.0.0.1:1\"",
            &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}"),
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.relays[0].name, "127.0.0.1");
        assert_eq!(p.enclave.trust_root_files[0], PathBuf::from("/p/root.pem"));
        assert_eq!(p.enclave.expected_pcrs.0[&0].len(), 48);
        assert_eq!(p.timeouts.stall, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_field() {
        let no_relays = profile("relays = []", &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}"));
        let e = parse(&no_relays).unwrap_err().to_string();
        assert!(e.contains("relays") && e.contains("at least one"), "{e}");

        let bad_url = profile(
            "[[relays]]\nurl = \"ftp://x\"",
            &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}"),
        );
        let e = parse(&bad_url).unwrap_err().to_string();
        assert!(e.contains("relays[0].url"), "{e}");

        let plain = profile("[[relays]]\nurl = \"http://relay.example\"", &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}"));
        let e = parse(&plain).unwrap_err().to_string();
        assert!(e.contains("https://"), "{e}");

        let bad_pcr = profile("[[relays]]\nurl = \"https://h\"", "expected_pcrs = { 0 = \"ab\" }");
        let e = parse(&bad_pcr).unwrap_err().to_string();
        assert!(e.contains("expected_pcrs.0") && e.contains("48 bytes"), "{e}");

        let no_pcr = profile("[[relays]]\nurl = \"https://h\"", "");
        let e = parse(&no_pcr).unwrap_err().to_string();
        assert!(e.contains("no expected measurements"), "{e}");

        let clash = profile(
            "[[relays]]\nurl = \"http://127.0.0.1:8788\"",
            &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}\n[local_stack]\ngateway_listen = \"127.0.0.1:8788\"\nadmin_listen = \"127.0.0.1:8789\""),
        );
        let e = parse(&clash).unwrap_err().to_string();
        assert!(e.contains("port 8788 is also used"), "{e}");

        let nitro = |roots: &str, pcrs: &str| format!("name = \"t\"\n[[relays]]\nurl = \"https://h\"\n[enclave]\nkind = \"aws-nitro\"\ntrust_roots = [{roots}]\nexpected_pcrs = {{ {pcrs} }}\n");
        let all = format!("0 = \"{PCR}\", 1 = \"{PCR}\", 2 = \"{PCR}\"");
        assert!(parse(&nitro("\"aws-nitro-root-g1\"", &all)).is_ok());
        let e = parse(&nitro("\"aws-nitro-root-g1\", \"mine.pem\"", &all)).unwrap_err().to_string();
        assert!(e.contains("trusts only the AWS Nitro root"), "{e}");
        let e = parse(&nitro("\"aws-nitro-root-g1\"", &format!("0 = \"{PCR}\""))).unwrap_err().to_string();
        assert!(e.contains("must expect PCR1"), "{e}");
        let zeros = format!("0 = \"{PCR}\", 1 = \"{}\", 2 = \"{PCR}\"", "00".repeat(48));
        let e = parse(&nitro("\"aws-nitro-root-g1\"", &zeros)).unwrap_err().to_string();
        assert!(e.contains("expected_pcrs.1") && e.contains("debug-mode"), "{e}");

        let huge = profile("[[relays]]\nurl = \"https://h\"", &format!("expected_pcrs = {{ 0 = \"{PCR}\" }}\nkey_cache_s = 9223372036854775807"));
        let e = parse(&huge).unwrap_err().to_string();
        assert!(e.contains("key_cache_s"), "{e}");

        let unknown = "name = \"t\"\nrelay = 1\n";
        let e = parse(unknown).unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn an_opengradient_profile_loads_and_its_errors_name_the_field() {
        let og = |extra: &str| format!("name = \"og\"\n[[relays]]\nurl = \"https://relay.example\"\n[opengradient]\nrpc_url = \"https://rpc.example\"\nregistry_address = \"0x703cB174AEadB35D611858369B4b1111dC9Abda6\"\n{extra}");
        let p = parse(&og("")).unwrap();
        let spec = p.opengradient.unwrap();
        assert_eq!(spec.tee_type, 0);
        assert_eq!(spec.registry_address[0], 0x70);
        assert!(spec.pcr_hash.is_none() && spec.tee_id.is_none());
        let pinned = parse(&og(&format!("tee_type = 1\npcr_hash = \"0x{}\"\ntee_id = \"{}\"", "ab".repeat(32), "CD".repeat(32)))).unwrap();
        let spec = pinned.opengradient.unwrap();
        assert_eq!(spec.pcr_hash, Some([0xab; 32]));
        assert_eq!(spec.tee_id.as_deref(), Some(format!("0x{}", "cd".repeat(32)).as_str()));
        for (extra, field) in [("pcr_hash = \"0x12\"", "pcr_hash"), ("tee_id = \"zz\"", "tee_id"), ("tee_type = 300", "300")] {
            let e = parse(&og(extra)).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let e = parse(&og("").replace("0x703cB174AEadB35D611858369B4b1111dC9Abda6", "0x12")).unwrap_err().to_string();
        assert!(e.contains("registry_address"), "{e}");
        let both = format!("{}\n[enclave]\nkind = \"development\"\ntrust_roots = [\"r\"]\nexpected_pcrs = {{ 0 = \"{PCR}\" }}\n", og(""));
        assert!(parse(&both).unwrap_err().to_string().contains("not both"));
    }

    #[test]
    fn the_shipped_opengradient_profile_is_valid() {
        let p = Profile::parse(crate::OPENGRADIENT_PROFILE_TOML, Path::new("opengradient.toml")).unwrap();
        assert!(p.opengradient.is_some());
        assert!(p.relays[0].url.as_str().starts_with("https://"));
    }

    #[test]
    fn the_shipped_local_profile_is_valid_once_the_stack_wrote_its_measurements() {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join("stack");
        std::fs::create_dir_all(&stack).unwrap();
        let mut m = BTreeMap::new();
        m.insert(0u16, vec![7u8; 48]);
        std::fs::write(stack.join("measurements.json"), Measurements(m).to_json()).unwrap();
        // SAFETY of the test: no other test in this crate reads SOTTO_HOME concurrently.
        std::env::set_var("SOTTO_HOME", dir.path());
        let p = Profile::parse(crate::LOCAL_PROFILE_TOML, Path::new("local.toml")).unwrap();
        std::env::remove_var("SOTTO_HOME");
        assert_eq!(p.enclave.kind, EnclaveKind::Development);
        assert_eq!(p.enclave.expected_pcrs.0[&0], vec![7u8; 48]);
        assert!(p.local_stack.is_some());
    }
}
