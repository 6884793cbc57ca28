//! `sotto agent run`: the local agent on a workspace folder, through the private path.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use sotto_core::agent::{run_agent, AgentConfig, AgentEnd, AgentObserver, AgentRecorder, AgentRun, Step, Toolbox, WritePolicy, WriteRequest, WRITE_POLICY_SETTING};
use sotto_core::history::open_store;
use sotto_core::private_inference::VerifiedReply;
use sotto_core::sandbox::Limits;
use sotto_core::store::Store;
use tokio_util::sync::CancellationToken;

use super::ConnectArgs;
use crate::exit;
use crate::output::{proof_line, receipt_json};

#[derive(clap::Subcommand)]
pub enum AgentCommand {
    /// Run a task on the files of a workspace folder; each step is shown as it happens.
    Run(RunArgs),
    /// Set whether the agent's writes need approval (stored in the history's settings).
    Writes {
        /// allow, ask or deny.
        policy: WritePolicy,
    },
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The folder the agent works in (Python sees it as /work).
    #[arg(long)]
    workspace: PathBuf,
    /// Print one JSON object at the end: steps (tool, input, output, files) and the verified reply.
    #[arg(long)]
    json: bool,
    /// Model to ask (default: the enclave's first).
    #[arg(long)]
    model: Option<String>,
    /// Most tool calls for this task.
    #[arg(long, default_value_t = 20)]
    max_steps: usize,
    /// Whether writes to the workspace go ahead (allow), are asked about (ask) or refused (deny).
    /// Default: the stored setting (`sotto agent writes`), else ask.
    #[arg(long)]
    writes: Option<WritePolicy>,
    /// Seconds each Python run may take.
    #[arg(long, default_value_t = 120)]
    deadline_s: u64,
    /// Do not store this run in the history.
    #[arg(long)]
    ephemeral: bool,
    /// What to do, in plain words.
    task: String,
}

pub fn run(command: AgentCommand) -> i32 {
    match command {
        AgentCommand::Run(args) => run_task(args),
        AgentCommand::Writes { policy } => set_writes(policy),
    }
}

fn set_writes(policy: WritePolicy) -> i32 {
    let stored = open_store(true, &mut super::history::ask_passphrase).and_then(|s| s.set_setting(WRITE_POLICY_SETTING, &json!(policy.as_str())));
    match stored {
        Ok(()) => {
            eprintln!("agent writes: {}", policy.as_str());
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            super::history::code_for(&e)
        }
    }
}

fn run_task(args: RunArgs) -> i32 {
    let workspace = match std::fs::canonicalize(&args.workspace) {
        Ok(p) if p.is_dir() => p,
        Ok(_) => return usage(format!("{} is not a folder", args.workspace.display())),
        Err(e) => return usage(format!("the workspace {} cannot be used: {e}", args.workspace.display())),
    };
    let store = if args.ephemeral { None } else { history() };
    let client = match args.connect.client(store.as_ref()) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let policy = args.writes.unwrap_or_else(|| stored_policy(store.as_ref()));
    let runtime = match super::sandbox::load(false) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    let limits = Limits { deadline: std::time::Duration::from_secs(args.deadline_s.max(1)), ..Limits::default() };
    let mut toolbox = match Toolbox::new(runtime, workspace, limits, policy) {
        Ok(t) => t,
        Err(e) => return usage(e.to_string()),
    };
    let config = AgentConfig { model: args.model.clone(), max_steps: args.max_steps, max_tokens: None };
    let mut recorder = store.as_ref().map(AgentRecorder::new);
    if !args.json {
        eprintln!("agent: working in {} (writes: {}, at most {} steps); files stay here, only what the model is sent leaves this device", args.workspace.display(), policy.as_str(), args.max_steps);
    }
    let mut observer = Printer { json: args.json, interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal() };
    super::runtime().block_on(async {
        let stop = CancellationToken::new();
        let on_ctrl_c = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        let run = run_agent(&client, &mut toolbox, &config, &args.task, &mut observer, recorder.as_mut(), &stop).await;
        finish(&args, &run, recorder.as_mut())
    })
}

fn usage(message: String) -> i32 {
    eprintln!("error: {message}");
    exit::USAGE
}

/// The history store; when it cannot be opened the run still goes ahead, unrecorded.
fn history() -> Option<Store> {
    match open_store(true, &mut super::history::ask_passphrase) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("note: this run is not stored: {e}");
            None
        }
    }
}

fn stored_policy(store: Option<&Store>) -> WritePolicy {
    store
        .and_then(|s| s.setting(WRITE_POLICY_SETTING).ok().flatten())
        .and_then(|v| v.as_str().and_then(|p| p.parse().ok()))
        .unwrap_or(WritePolicy::Ask)
}

fn finish(args: &RunArgs, run: &AgentRun, recorder: Option<&mut AgentRecorder<'_>>) -> i32 {
    let (ended, code, reply) = match &run.end {
        AgentEnd::Answer(reply) => ("answer", exit::OK, Some(reply.as_ref())),
        AgentEnd::StepLimit(n) => {
            eprintln!("stopped: the task used its {n} steps without a final answer (raise --max-steps to allow more)");
            ("step_limit", exit::INCOMPLETE, None)
        }
        AgentEnd::Stopped => {
            eprintln!("stopped by the user");
            ("stopped", exit::INTERRUPTED, None)
        }
        AgentEnd::Failed(e) => {
            eprintln!("error: {e}");
            ("failed", exit::for_error(e), None)
        }
    };
    let ids = recorder.map(|r| {
        let stored = match &run.end {
            AgentEnd::Answer(reply) => r.answered(reply),
            AgentEnd::Failed(e) => r.failed(&e.to_string()),
            _ => r.stopped(ended),
        };
        if let Err(e) = stored {
            eprintln!("warning: the end of this run could not be stored: {e}");
        }
        (r.run_id().to_owned(), r.conversation_id().map(String::from))
    });
    if args.json {
        print_json(run, ended, reply, ids);
    } else if let Some(reply) = reply {
        println!("\n{}", reply.text);
        eprintln!("{}", proof_line(reply));
    }
    code
}

/// The one JSON object of `--json`.
fn print_json(run: &AgentRun, ended: &str, reply: Option<&VerifiedReply>, ids: Option<(String, Option<String>)>) {
    let (run_id, conversation_id) = ids.unzip();
    let out = json!({
        "ended": ended,
        "run_id": run_id,
        "conversation_id": conversation_id.flatten(),
        "steps": run.steps,
        "requests": run.requests.iter().map(|r| json!({"bytes": r.len()})).collect::<Vec<Value>>(),
        "reply": reply.map(|r| r.text.as_str()),
        "verified": reply.is_some(),
        "model": reply.map(|r| r.model.as_str()),
        "receipt": reply.map(receipt_json),
        "error": match &run.end { AgentEnd::Failed(e) => Some(e.to_string()), _ => None },
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}

/// Shows each step as it happens (on stdout, or nothing with `--json`).
struct Printer {
    json: bool,
    interactive: bool,
}

impl AgentObserver for Printer {
    fn model_verified(&mut self, reply: &VerifiedReply) {
        if !self.json && reply.tool_calls.is_some() && !reply.text.trim().is_empty() {
            println!("\n{}", reply.text.trim());
        }
    }

    fn step_started(&mut self, n: usize, tool: &str, input: &Value) {
        if self.json {
            return;
        }
        println!("\n── step {n} · {tool} ──");
        match (tool, input) {
            ("run_python", Value::Object(m)) => println!("{}", indent(m.get("code").and_then(Value::as_str).unwrap_or_default())),
            ("write_file" | "make_pdf", Value::Object(m)) => println!("  → {}", m.get("path").and_then(Value::as_str).unwrap_or("?")),
            (_, Value::Object(m)) if m.is_empty() => {}
            _ => println!("  {input}"),
        }
        let _ = std::io::stdout().flush();
    }

    fn step_finished(&mut self, step: &Step) {
        if self.json {
            return;
        }
        let mark = if step.ok { "output" } else { "failed" };
        println!("── {mark} ({:.1} s) ──\n{}", step.duration_ms as f64 / 1000.0, indent(step.output.trim_end()));
        if !step.files.is_empty() && !step.output.contains("files written:") {
            println!("  files: {}", step.files.join(", "));
        }
        let _ = std::io::stdout().flush();
    }

    fn approve_write(&mut self, request: &WriteRequest<'_>) -> bool {
        let question = match request {
            WriteRequest::File { path, bytes } => format!("Allow the agent to write {path} ({bytes} bytes) in the workspace?"),
            WriteRequest::Python { .. } => "Allow Python to create and change files in the workspace for this task?".to_string(),
        };
        if !self.interactive {
            eprintln!("note: {question} No: nobody is here to approve it (use --writes allow, or `sotto agent writes allow`)");
            return false;
        }
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
