//! `sotto extract FILE`: what Sotto would send for that attachment, read inside the sandbox.

use std::path::PathBuf;

use sotto_core::extract::{extract, terminal_safe, ExtractError, ExtractLimits};

use crate::exit;

#[derive(clap::Args)]
pub struct ExtractArgs {
    /// Print one JSON object: kind, text, pages or sheets, chars, truncated.
    #[arg(long)]
    json: bool,
    /// The file (PDF, Word, Excel, OpenDocument, CSV/TSV, JSON, HTML, Markdown, text). An
    /// encrypted PDF's password comes from SOTTO_PDF_PASSWORD.
    file: PathBuf,
}

pub fn run(args: ExtractArgs) -> i32 {
    let runtime = match super::sandbox::load(false) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    let password = std::env::var("SOTTO_PDF_PASSWORD").ok().filter(|p| !p.is_empty());
    let read = super::runtime().block_on(extract(&runtime, &args.file, password.as_deref(), &ExtractLimits::default()));
    match read {
        Ok(e) => {
            if args.json {
                println!("{}", serde_json::to_string(&e).unwrap_or_default());
            } else {
                println!("{}", terminal_safe(&e.text));
                let name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                eprintln!("{}", terminal_safe(&e.summary(&name)));
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {}", terminal_safe(&e.to_string()));
            code_for(&e)
        }
    }
}

/// A limit that stopped the read is exit 3; a file that cannot be read (or set-up) is 1.
pub fn code_for(e: &ExtractError) -> i32 {
    match e {
        ExtractError::Limit { .. } => exit::CHECK_FAILED,
        _ => exit::SETUP,
    }
}
