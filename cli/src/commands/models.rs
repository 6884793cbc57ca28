use sotto_core::private_inference::ModelKind;

use super::ProfileArgs;
use crate::exit;

#[derive(clap::Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ModelsArgs) -> i32 {
    // Recorded in the history's ledger when one opens without asking (keyring or SOTTO_PASSPHRASE).
    let ledger = sotto_core::history::open_store(false, &mut |_| None).ok();
    let client = match super::client(&args.profile, &[], &[], std::time::Duration::ZERO, ledger.as_ref().and_then(sotto_core::ledger::StoreLedger::for_store)) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    match super::runtime().block_on(client.catalog()) {
        Ok((catalog, reply)) => {
            let receipt = reply.as_ref().map(crate::output::receipt_json);
            let chat: Vec<&str> = catalog.iter().filter(|m| m.kind == ModelKind::Chat).map(|m| m.id.as_str()).collect();
            if args.json {
                // `models`: the chat models; `catalog`: every model with its kind.
                let out = serde_json::json!({"models": chat, "catalog": catalog, "verified": reply.is_some(), "receipt": receipt});
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                for m in &catalog {
                    match (m.kind, &m.description) {
                        (ModelKind::Chat, _) if m.accepts_images => println!("{}  (reads images too)", m.id),
                        (ModelKind::Chat, _) => println!("{}", m.id),
                        (ModelKind::Image, Some(d)) => println!("{}  (images: {d})", m.id),
                        (ModelKind::Image, None) => println!("{}  (images)", m.id),
                    }
                }
                match &reply {
                    Some(r) => eprintln!("{}", crate::output::proof_line(r)),
                    None => eprintln!("note: OpenGradient's TEEs publish no model list; these are the models its SDK names (not signed by a TEE)"),
                }
            }
            exit::OK
        }
        Err(e) => exit::report(&e),
    }
}
