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
    },
}

pub fn run(command: ProofCommand) -> i32 {
    let ProofCommand::Verify { file, json } = command;
    let bytes = match read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    let verdicts = match proof::verify_file(&bytes) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return exit::CHECK_FAILED;
        }
    };
    if json {
        let out: Vec<_> = verdicts
            .iter()
            .map(|(message, v)| match v {
                Ok(r) => json!({"message": message, "verified": true, "hardware_protected": r.hardware_protected, "detail": sotto_core::recheck::describe(r), "enclave": r.enclave, "model": r.model, "text_checked": r.text_checked}),
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

fn read(file: &std::path::Path) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
    if size > MAX_PROOF_FILE {
        return Err(format!("{} is {size} bytes; a proof file is at most {} MiB", file.display(), MAX_PROOF_FILE >> 20));
    }
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}
