//! `sotto sandbox prepare|run`: the local agent's Python sandbox.

use std::path::PathBuf;
use std::time::Duration;

use sotto_core::sandbox::{Artifacts, Limits, Progress, RunRequest, Runtime, SandboxError};

use crate::exit;

#[derive(clap::Subcommand)]
pub enum SandboxCommand {
    /// Compile the Python runtime once and cache it (tens of seconds the first time).
    Prepare,
    /// Run Python code in the sandbox.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Folder the code sees as /work (read-only unless --writable).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Let the code create and change files in the workspace.
    #[arg(long, requires = "workspace")]
    writable: bool,
    /// Wall-clock seconds before the run is stopped.
    #[arg(long, default_value_t = 60.0)]
    deadline_s: f64,
    /// Most memory the code may use, in MiB.
    #[arg(long, default_value_t = 1024)]
    memory_mb: usize,
    /// Most output kept per stream, in MiB.
    #[arg(long, default_value_t = 16)]
    output_mb: usize,
    /// Print one JSON object: exit_code, stdout, stderr, trapped, files_written, duration_ms.
    #[arg(long)]
    json: bool,
    /// Python code to run.
    #[arg(short = 'c', conflicts_with = "file", required_unless_present = "file")]
    code: Option<String>,
    /// A .py file to run.
    file: Option<PathBuf>,
}

pub fn run(command: SandboxCommand) -> i32 {
    let result = match command {
        SandboxCommand::Prepare => load(true).map(|_| exit::OK),
        SandboxCommand::Run(args) => run_code(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        exit::SETUP
    })
}

/// Loads the runtime, drawing a progress bar on a terminal while it compiles.
pub(crate) fn load(announce: bool) -> Result<Runtime, SandboxError> {
    let artifacts = Artifacts::locate(&Artifacts::default_dir())?;
    let mut bar: Option<indicatif::ProgressBar> = None;
    let runtime = Runtime::load(artifacts, &mut |p| match p {
        Progress::Verifying => {}
        Progress::Compiling { previous, .. } => {
            let b = match previous {
                Some(d) => indicatif::ProgressBar::new(d.as_millis() as u64).with_style(
                    indicatif::ProgressStyle::with_template("compiling the Python runtime (first time only) {wide_bar} {elapsed} of about {len_s}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .with_key("len_s", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{}s", s.len().unwrap_or(0) / 1000);
                        }),
                ),
                None => indicatif::ProgressBar::new_spinner().with_message("compiling the Python runtime (first time only, about a minute)"),
            };
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b.enable_steady_tick(Duration::from_millis(200));
            let started = std::time::Instant::now();
            let ticking = b.clone();
            std::thread::spawn(move || {
                while !ticking.is_finished() {
                    ticking.set_position((started.elapsed().as_millis() as u64).min(ticking.length().unwrap_or(u64::MAX)));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            bar = Some(b);
        }
        Progress::Ready { compiled, took } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if announce {
                let how = if compiled { "compiled and cached" } else { "loaded from the cache" };
                eprintln!("Python runtime ready: {how} in {:.2} s ({})", took.as_secs_f64(), sotto_core::sandbox::cache_dir().display());
            }
        }
    })?;
    Ok(runtime)
}

fn run_code(args: RunArgs) -> Result<i32, SandboxError> {
    let code = match (&args.code, &args.file) {
        (Some(c), _) => c.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|source| SandboxError::Io { action: "read", path: f.clone(), source })?,
        (None, None) => unreachable!("clap requires -c or FILE"),
    };
    if !(args.deadline_s > 0.0 && args.deadline_s.is_finite()) {
        eprintln!("error: --deadline-s must be a positive number of seconds");
        return Ok(exit::USAGE);
    }
    let limits = Limits {
        deadline: Duration::from_secs_f64(args.deadline_s),
        memory_bytes: args.memory_mb.saturating_mul(1 << 20),
        output_bytes: args.output_mb.saturating_mul(1 << 20),
        ..Limits::default()
    };
    let runtime = load(false)?;
    let request = RunRequest { code, workspace: args.workspace.clone(), writable: args.writable, limits };
    let result = super::runtime().block_on(runtime.run(&request))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default());
    } else {
        print!("{}", result.stdout);
        eprint!("{}", result.stderr);
        if let Some(t) = &result.trapped {
            eprintln!("stopped: {}", describe(t, &limits));
        }
        for f in &result.files_written {
            eprintln!("wrote /work/{f}");
        }
    }
    Ok(match (result.exit_code, &result.trapped) {
        (Some(code), None) => code,
        _ => exit::CHECK_FAILED,
    })
}

fn describe(trapped: &str, l: &Limits) -> String {
    match trapped {
        "deadline" => format!("the run passed its deadline ({:.1} s)", l.deadline.as_secs_f64()),
        "memory" => format!("the run needed more than its memory limit ({} MiB)", l.memory_bytes >> 20),
        "output" => format!("the run printed more than its output limit ({} MiB)", l.output_bytes >> 20),
        "open_files" => "the run opened too many files at once".into(),
        "disk" => format!("the run stored more than its disk limit ({} MiB in /tmp and new files in /work)", l.disk_bytes >> 20),
        other => format!("the run crashed: {other}"),
    }
}
