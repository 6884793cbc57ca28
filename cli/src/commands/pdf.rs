use std::path::PathBuf;

use sotto_core::documents::{render_file, Paper};

use crate::exit;

#[derive(clap::Args)]
pub struct PdfArgs {
    /// The Markdown file.
    input: PathBuf,
    /// Where to write the PDF (default: beside the input, with .pdf).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Paper size.
    #[arg(long, default_value = "a4")]
    paper: Paper,
}

pub fn run(args: PdfArgs) -> i32 {
    let output = args.output.clone().unwrap_or_else(|| args.input.with_extension("pdf"));
    match render_file(&args.input, &output, args.paper) {
        Ok(bytes) => {
            eprintln!("wrote {} ({} KiB)", output.display(), bytes.div_ceil(1024));
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::SETUP
        }
    }
}
