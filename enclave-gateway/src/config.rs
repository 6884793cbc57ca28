use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Which model back-end answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendSpec {
    /// The embedded SmolLM2 model (the offline default).
    Embedded { model_path: PathBuf },
    /// Replays a script file (a test stand-in).
    Scripted { script: PathBuf },
    /// Forwards to an OpenAI-compatible server (a stand-in for a cloud provider, or Ollama).
    OpenAi { base_url: String },
}

impl FromStr for BackendSpec {
    type Err = String;

    /// `embedded`, `embedded:PATH`, `scripted:FILE` or `openai:URL`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, arg) = s.split_once(':').map_or((s, None), |(k, a)| (k, Some(a)));
        match (kind, arg) {
            ("embedded", None) => Ok(Self::Embedded {
                model_path: sotto_embedded_model::default_model_path(),
            }),
            ("embedded", Some(p)) => Ok(Self::Embedded { model_path: p.into() }),
            ("scripted", Some(p)) if !p.is_empty() => Ok(Self::Scripted { script: p.into() }),
            ("openai", Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {
                Ok(Self::OpenAi {
                    base_url: u.trim_end_matches('/').to_string(),
                })
            }
            _ => Err(format!(
                "`{s}` is not a back-end: use embedded, scripted:FILE or openai:URL (http:// or https://)"
            )),
        }
    }
}

impl BackendSpec {
    /// A stable description that goes into PCR1 (the configuration measurement).
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded { .. } => "embedded".into(),
            Self::Scripted { .. } => "scripted".into(),
            Self::OpenAi { base_url } => format!("openai:{base_url}"),
        }
    }
}

/// Which wire the gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// Sotto's own: chunked OHTTP around Binary HTTP, Ed25519 receipts, attestation bundle.
    Sotto,
    /// OpenGradient's: OHTTP with JSON inside, RSA-PSS receipts, a registry record.
    Opengradient,
}

/// Where a replica's keys come from: the keeper's address, and its Ed25519 public key (hex),
/// the only key a release is accepted under. Both are measured: they say who holds the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    pub url: String,
    pub keeper_key: String,
}

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where the relay reaches the gateway.
    pub listen: SocketAddr,
    /// Loopback-only admin listener (key rotation, observations); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// Where the development root and measurements are written.
    pub state_dir: PathBuf,
    pub backend: BackendSpec,
    /// Which image back-end answers `POST /v1/images/generations`.
    pub images: crate::ImagesSpec,
    /// Which search provider answers requests with `web_search` set.
    pub search: crate::SearchSpec,
    /// A replica: its keys come from this key keeper (after attesting), not from itself.
    pub key_source: Option<KeySource>,
    pub wire: Wire,
    /// With the OpenGradient wire: where the registry stand-in answers JSON-RPC (loopback).
    pub registry_listen: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_end_specs_parse_with_clear_errors() {
        assert_eq!(
            "scripted:/x.json".parse::<BackendSpec>().unwrap(),
            BackendSpec::Scripted { script: "/x.json".into() }
        );
        assert_eq!(
            "openai:http://127.0.0.1:11434/".parse::<BackendSpec>().unwrap(),
            BackendSpec::OpenAi { base_url: "http://127.0.0.1:11434".into() }
        );
        assert!(matches!("embedded".parse::<BackendSpec>().unwrap(), BackendSpec::Embedded { .. }));
        let e = "openai:ftp://x".parse::<BackendSpec>().unwrap_err();
        assert!(e.contains("openai:URL"), "{e}");
        assert!("scripted:".parse::<BackendSpec>().is_err());
    }
}
