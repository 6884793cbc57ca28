use std::path::PathBuf;

use clap::Subcommand;
use sotto_core::stack::{Flavor, LocalStack, StackOptions};

use crate::exit;

#[derive(Subcommand)]
pub enum StackCommand {
    /// Start the relay and the development enclave; runs until interrupted.
    Up {
        /// Profile with a [local_stack] section (default: the shipped local profile).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// embedded (default), scripted:FILE or openai:URL.
        #[arg(long, default_value = "embedded")]
        backend: String,
        /// Image generation: demo (the local demo generator, not a trained model), off, or
        /// openai:URL (an OpenAI-compatible image API).
        #[arg(long, default_value = "demo")]
        images: String,
        /// Web search inside the enclave: standin (a small local corpus, not the web), off, or
        /// brave:URL (the Brave Search API; the key in SOTTO_SEARCH_API_KEY, on the gateway only).
        #[arg(long, default_value = "standin")]
        search: String,
        /// Gateway replicas behind the relay (1 to 8): nginx balances across them; a key keeper
        /// releases them shared keys after checking each one's attestation.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
        replicas: u8,
        /// sotto (default): Sotto's development enclave; opengradient: OpenGradient's wire,
        /// relay paths and a registry stand-in, all offline.
        #[arg(long, value_parser = ["sotto", "opengradient"], default_value = "sotto")]
        flavor: String,
    },
}

pub fn run(command: StackCommand) -> i32 {
    match command {
        StackCommand::Up { profile, backend, images, search, replicas, flavor } => {
            let flavor = if flavor == "opengradient" { Flavor::OpenGradient } else { Flavor::Sotto };
            up(profile, backend, images, search, usize::from(replicas), flavor)
        }
    }
}

fn up(profile: Option<PathBuf>, backend: String, images: String, search: String, replicas: usize, flavor: Flavor) -> i32 {
    let dir = sotto_core::relay_config::stack_dir();
    eprintln!("starting the development enclave ({backend}) and the nginx relay; files in {}", dir.display());
    let options = StackOptions { flavor, profile, backend, images, search, replicas, dir };
    let mut stack = match LocalStack::start(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP;
        }
    };
    println!("relay: {}", stack.relay_url);
    if let (Some(registry), Some(profile)) = (&stack.registry_url, &stack.profile_file) {
        println!("registry: {registry}");
        println!("profile: {}", profile.display());
        eprintln!("the registry is a stand-in (JSON-RPC answering getActiveTEEs), not OpenGradient's chain");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("gateway: http://{} (admin http://{})", stack.gateway_addr, stack.admin_addr);
    if replicas > 1 {
        eprintln!("{replicas} gateway replicas behind the relay (round robin), keys released by a key keeper; each in {}/replicas/N", stack.dir.display());
    }
    eprintln!("development enclave — not hardware-protected. Press Ctrl-C to stop.");
    let rt = super::runtime();
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    });
    eprintln!("stopping");
    stack.stop();
    exit::OK
}
