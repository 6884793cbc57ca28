use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use clap::Subcommand;
use serde_json::json;
use sotto_attestation::{pem_to_der, verify, Policy};

use crate::exit;

#[derive(Subcommand)]
pub enum AttestCommand {
    /// Verify one attestation document (raw CBOR or base64) and print what it proves.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The document file.
    doc: PathBuf,
    /// Trusted root certificate (PEM, repeatable). Default: the AWS Nitro root G1.
    #[arg(long = "root")]
    roots: Vec<PathBuf>,
    /// Verify as of this time (Unix seconds, fractions allowed). Default: now.
    #[arg(long)]
    at: Option<f64>,
    /// Expected measurement N=HEX (repeatable).
    #[arg(long = "pcr")]
    pcrs: Vec<String>,
    /// Expected nonce (hex).
    #[arg(long)]
    nonce: Option<String>,
    /// Refuse documents older than this many seconds at --at.
    #[arg(long)]
    max_age_s: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(command: AttestCommand) -> i32 {
    match command {
        AttestCommand::Verify(args) => verify_doc(args),
    }
}

fn fail(json_out: bool, message: String, code: i32) -> i32 {
    if json_out {
        println!("{}", json!({"valid": false, "error": message}));
    }
    eprintln!("error: {message}");
    code
}

/// Raw COSE starts with a CBOR array (0x84) or the COSE_Sign1 tag (0xd2); anything else is
/// tried as base64.
fn read_document(path: &PathBuf) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if matches!(bytes.first(), Some(0x84) | Some(0xd2)) {
        return Ok(bytes);
    }
    let text: String = String::from_utf8_lossy(&bytes).chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| format!("{} is neither a CBOR attestation document nor base64", path.display()))
}

fn policy(args: &VerifyArgs) -> Result<Policy, String> {
    let mut roots = Vec::new();
    if args.roots.is_empty() {
        roots = pem_to_der(sotto_core::relay_config::AWS_NITRO_ROOT_G1_PEM).map_err(|e| e.to_string())?;
    }
    for r in &args.roots {
        let pem = std::fs::read_to_string(r).map_err(|e| format!("cannot read root {}: {e}", r.display()))?;
        roots.extend(pem_to_der(&pem).map_err(|e| format!("{}: {e}", r.display()))?);
    }
    let mut expected = BTreeMap::new();
    for spec in &args.pcrs {
        let (i, v) = super::parse_pcr_arg(spec)?;
        expected.insert(i, v);
    }
    let at = match args.at {
        // Anything past the year 9999 is a typo, and far past it would overflow the clock.
        Some(s) if s.is_finite() && (0.0..=253_402_300_799.0).contains(&s) => Duration::from_secs_f64(s),
        Some(_) => return Err("--at must be seconds since 1970, up to the year 9999".into()),
        None => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
    };
    let nonce = args
        .nonce
        .as_deref()
        .map(|n| hex::decode(n).map_err(|_| format!("--nonce `{n}` is not hex")))
        .transpose()?;
    Ok(Policy { roots, expected_pcrs: expected, nonce, user_data: None, max_age: args.max_age_s.map(Duration::from_secs), at })
}

fn verify_doc(args: VerifyArgs) -> i32 {
    let doc = match read_document(&args.doc) {
        Ok(d) => d,
        Err(e) => return fail(args.json, e, exit::SETUP),
    };
    let policy = match policy(&args) {
        Ok(p) => p,
        Err(e) => return fail(args.json, e, 2),
    };
    match verify(&doc, &policy) {
        Ok(v) => {
            let d = &v.document;
            let pcrs: BTreeMap<String, String> = d.pcrs.iter().map(|(i, p)| (format!("PCR{i}"), hex::encode(p))).collect();
            if args.json {
                let out = json!({
                    "valid": true, "module_id": d.module_id, "timestamp_ms": d.timestamp_ms,
                    "root_sha256": v.root_sha256, "pcrs": pcrs,
                    "user_data": d.user_data.as_ref().map(hex::encode), "nonce": d.nonce.as_ref().map(hex::encode),
                    "public_key": d.public_key.as_ref().map(hex::encode),
                });
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                println!("valid attestation document");
                println!("  module:    {}", d.module_id);
                println!("  issued:    {} ms since 1970", d.timestamp_ms);
                println!("  root:      {}", v.root_sha256);
                for i in [0u16, 1, 2, 8] {
                    if let Some(p) = d.pcrs.get(&i) {
                        println!("  PCR{i}:      {}", hex::encode(p));
                    }
                }
                if let Some(n) = &d.nonce {
                    println!("  nonce:     {}", hex::encode(n));
                }
                if let Some(u) = &d.user_data {
                    println!("  user_data: {}", hex::encode(u));
                }
            }
            exit::OK
        }
        Err(e) => fail(args.json, e.to_string(), exit::CHECK_FAILED),
    }
}
