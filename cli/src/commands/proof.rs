//! `sotto proof verify FILE.json`: checks a proof file anywhere, with no store and no network.

use std::path::PathBuf;

use serde_json::json;
use sotto_core::private_inference::proof::{self, MAX_PROOF_FILE};

use crate::exit;

#[derive(clap::Subcommand)]
pub enum ProofCommand {
    /// Check a proof written by `sotto history proof` (exit 0: every exchange verifies; 3: one
    /// does not; 1: the file cannot be read).
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// The measurement you trust for PCR N (repeatable): an exchange whose attested document
        /// reports another value fails. Without it, compare the printed values yourself.
        #[arg(long = "expect-pcr", value_name = "N=HEX")]
        pcrs: Vec<String>,
    },
}

pub fn run(command: ProofCommand) -> i32 {
    let ProofCommand::Verify { file, json, pcrs } = command;
    let expected = match pcrs.iter().map(|s| super::parse_pcr_arg(s)).collect::<Result<Vec<_>, _>>() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: --expect-pcr: {e}");
            return exit::USAGE;
        }
    };
    let bytes = match read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    let verdicts = match proof::verify_file(&bytes) {
        // The reader's own expectations, over the file's.
        Ok(v) => v.into_iter().map(|(n, r)| (n, r.and_then(|r| matches_expected(r, &expected)))).collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return exit::CHECK_FAILED;
        }
    };
    if json {
        let out: Vec<_> = verdicts
            .iter()
            .map(|(message, v)| match v {
                Ok(r) => json!({"message": message, "verified": true, "hardware_protected": r.hardware_protected, "detail": sotto_core::recheck::describe(r), "enclave": r.enclave, "model": r.model, "text_checked": r.text_checked, "citations": r.citations.clone().unwrap_or_default()}),
                Err(e) => json!({"message": message, "verified": false, "detail": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for (message, v) in &verdicts {
            match v {
                Ok(r) => println!("message {message}: ✓ verified: {}", sotto_core::recheck::describe(r)),
                Err(e) => println!("message {message}: ✗ failed: {e}"),
            }
        }
    }
    if verdicts.iter().all(|(_, v)| v.is_ok()) {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

fn matches_expected(r: proof::Rechecked, expected: &[(u16, Vec<u8>)]) -> Result<proof::Rechecked, proof::ProofError> {
    for (index, value) in expected {
        let found = r.enclave.pcrs.get(index).cloned().unwrap_or_default();
        if !found.eq_ignore_ascii_case(&hex::encode(value)) {
            return Err(proof::ProofError::Attestation(format!("PCR{index} is {found}, not the {} you expect", hex::encode(value))));
        }
    }
    Ok(r)
}

/// At most the cap, whatever the file is (a pipe, a device) — never more.
fn read(file: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PROOF_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if bytes.len() as u64 > MAX_PROOF_FILE {
        return Err(format!("{} is larger than a proof file may be ({} MiB)", file.display(), MAX_PROOF_FILE >> 20));
    }
    Ok(bytes)
}
