//! `sotto image`: Image Studio on the command line — generate through the private path (each
//! image checked against the receipt before a byte is written), and the gallery: list, show,
//! export, delete.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use sotto_core::history::open_store;
use sotto_core::images::{self, Generation, ImageSettings, ImageStudioError};
use sotto_core::store::{GalleryEntry, Store, StoreError};

use super::ConnectArgs;
use crate::commands::history::{ask_passphrase, code_for, short};
use crate::exit;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: Option<GalleryCommand>,
    #[command(flatten)]
    make: MakeArgs,
}

#[derive(clap::Args)]
struct MakeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Image size, WxH (256x256, 512x512, 1024x1024, 1536x1024, 1024x1536, 1792x1024, 1024x1792).
    #[arg(long, default_value = "1024x1024")]
    size: String,
    /// How many images (1 to 4).
    #[arg(short = 'n', default_value_t = 1)]
    n: u32,
    /// Seed: the same prompt, seed and settings make the same picture (default: a fresh one).
    #[arg(long)]
    seed: Option<u64>,
    /// Style (the local demo generator knows natural, vivid, pastel and mono).
    #[arg(long)]
    style: Option<String>,
    /// Image model (default: the enclave's first).
    #[arg(long)]
    model: Option<String>,
    /// Folder for the PNGs (default: the current folder).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print one JSON object: files, sizes, seed, model, receipt.
    #[arg(long)]
    json: bool,
    /// Do not keep the generation in the gallery.
    #[arg(long)]
    ephemeral: bool,
    /// What to picture; `-` reads it from standard input (so it stays out of the shell's
    /// history and the process list).
    #[arg(required = true)]
    prompt: Option<String>,
}

#[derive(clap::Subcommand)]
enum GalleryCommand {
    /// The gallery, newest first.
    List {
        #[arg(long)]
        json: bool,
        /// At most this many generations.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One generation: prompt, settings, images, receipt, and its check made again.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a generation's PNGs (all, or image N) into DIR.
    Export {
        id: String,
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// Only image N (1 = the first).
        #[arg(long = "image", value_name = "N")]
        image: Option<u32>,
    },
    /// Delete a generation and its images for real.
    Delete { id: String },
}

pub fn run(args: ImageArgs) -> i32 {
    match args.command {
        Some(c) => gallery(c),
        None => make(args.make),
    }
}

/// The prompt as given, or read from standard input for `-` (at most 64 KiB).
fn prompt_of(given: Option<&str>) -> Result<String, String> {
    match given {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), 64 << 10), &mut text)
                .map_err(|e| format!("cannot read the prompt from standard input ({e})"))?;
            Ok(text.trim().to_string())
        }
        other => Ok(other.unwrap_or_default().to_string()),
    }
}

fn make(args: MakeArgs) -> i32 {
    let prompt = match prompt_of(args.prompt.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    let settings = ImageSettings { size: args.size.clone(), n: args.n, seed: args.seed, style: args.style.clone(), model: args.model.clone() };
    // Input problems are said before anything is attested or sent.
    if let Some(problem) = images::request_for(&prompt, &settings).problem() {
        eprintln!("error: {problem}");
        return exit::SETUP;
    }
    let store = if args.ephemeral {
        None
    } else {
        match open_store(true, &mut ask_passphrase) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("note: this generation is not kept in the gallery: {e}");
                None
            }
        }
    };
    let client = match args.connect.client(store.as_ref()) {
        Ok(c) => c,
        Err(e) => return crate::exit::report(&e),
    };
    let progress = std::io::stderr().is_terminal().then(|| {
        Arc::new(|got: u64, total: Option<u64>| {
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            match total {
                Some(t) => eprint!("\rreceiving {:.1} of {:.1} MiB (authenticated as it arrives)", mib(got), mib(t)),
                None => eprint!("\rreceiving {:.1} MiB", mib(got)),
            }
        }) as sotto_core::private_inference::Progress
    });
    if progress.is_some() {
        eprint!("generating through the private path…");
    }
    let result = super::runtime().block_on(images::generate(&client, store.as_ref(), &prompt, &settings, progress));
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    let generation = match result {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return if e.is_check_failure() { exit::CHECK_FAILED } else { exit::SETUP };
        }
    };
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    let files = match images::save_generation(&dir, &generation) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    report(&args, &generation, &files);
    exit::OK
}

fn report(args: &MakeArgs, g: &Generation, files: &[PathBuf]) {
    if args.json {
        let out = json!({
            "id": g.id,
            "files": files,
            "images": g.images.iter().zip(files).map(|(i, f)| json!({"file": f, "width": i.width, "height": i.height, "bytes": i.png.len(), "sha256": hex::encode(i.sha256)})).collect::<Vec<_>>(),
            "size": g.settings.size, "n": g.images.len(), "seed": g.seed, "style": g.settings.style,
            "model": g.model, "prompt": g.prompt, "receipt": g.receipt,
        });
        println!("{out}");
        return;
    }
    for (f, i) in files.iter().zip(&g.images) {
        println!("{} ({}×{}, {} KiB)", f.display(), i.width, i.height, i.png.len() / 1024);
    }
    let who = if g.development { "development enclave — not hardware-protected".to_string() } else { "hardware-protected enclave".to_string() };
    let output = g.receipt["output_hash"].as_str().unwrap_or_default();
    eprintln!("✓ verified · {who} · model {} · seed {} · receipt {} covers every image", g.model, g.seed, &output[..16.min(output.len())]);
    if g.model == "sotto-demo-images" {
        eprintln!("  note: made by the local demo generator — not a trained model");
    }
    match &g.id {
        Some(id) => eprintln!("  kept in the gallery as {}", short(id)),
        None => eprintln!("  not kept in the gallery"),
    }
}

fn gallery(command: GalleryCommand) -> i32 {
    let store = match open_store(false, &mut ask_passphrase) {
        Ok(s) => s,
        Err(StoreError::NoStore(_)) if matches!(command, GalleryCommand::List { .. }) => {
            if let GalleryCommand::List { json: true, .. } = command {
                println!("[]");
            } else {
                eprintln!("the gallery is empty");
            }
            return exit::OK;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return code_for(&e);
        }
    };
    let result = match command {
        GalleryCommand::List { json, limit } => list(&store, json, limit),
        GalleryCommand::Show { id, json } => show(&store, &id, json),
        GalleryCommand::Export { id, out, image } => export(&store, &id, &out, image),
        GalleryCommand::Delete { id } => store.delete_generation(&id).map(|id| println!("deleted {}", short(&id))).map_err(ImageStudioError::from),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            match &e {
                ImageStudioError::Store(s) => code_for(s),
                other if other.is_check_failure() => exit::CHECK_FAILED,
                _ => exit::SETUP,
            }
        }
    }
}

fn list(store: &Store, json: bool, limit: usize) -> Result<(), ImageStudioError> {
    let entries = store.gallery(limit, 0)?;
    if json {
        println!("{}", serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into()));
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("the gallery is empty");
    }
    for e in &entries {
        println!("{}  {}  {}×{}  {}", short(&e.id), when(e.created_ms), e.outputs.len(), e.settings["size"].as_str().unwrap_or("?"), one_line(&e.prompt));
    }
    Ok(())
}

fn show(store: &Store, id: &str, json: bool) -> Result<(), ImageStudioError> {
    let e = store.generation(id)?;
    let check = images::recheck(store, &e.id)?;
    if json {
        let (verdict, detail) = match &check {
            Ok(d) => ("verified", d.clone()),
            Err(d) => ("failed", d.clone()),
        };
        println!("{}", json!({"generation": e, "check": {"verdict": verdict, "detail": detail}}));
        return Ok(());
    }
    print_entry(&e);
    match check {
        Ok(d) => println!("check:    ✓ verified again — {d}"),
        Err(d) => println!("check:    ✗ failed — {d}"),
    }
    Ok(())
}

fn print_entry(e: &GalleryEntry) {
    println!("id:       {}", e.id);
    println!("made:     {}", when(e.created_ms));
    println!("prompt:   {}", one_line(&e.prompt));
    println!("model:    {}", e.model);
    let s = &e.settings;
    println!("settings: size {} · {} image(s) · seed {} · style {}", s["size"].as_str().unwrap_or("?"), s["n"], s["seed"], s["style"].as_str().unwrap_or("default"));
    for o in &e.outputs {
        println!("image {}:  {}×{} · sha256 {}", o.index + 1, o.width, o.height, o.sha256);
    }
    println!("receipt:  {}", sotto_core::proof::receipt_summary(&e.receipt));
}

fn export(store: &Store, id: &str, out: &std::path::Path, image: Option<u32>) -> Result<(), ImageStudioError> {
    if image == Some(0) {
        return Err(ImageStudioError::Input("images are numbered from 1".into()));
    }
    for f in images::export(store, id, image.map(|n| n - 1), out)? {
        println!("{}", f.display());
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

fn one_line(text: &str) -> String {
    let line: String = text.chars().filter(|c| !c.is_control()).take(80).collect();
    if text.chars().count() > 80 { format!("{line}…") } else { line }
}

fn when(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}
