//! `sotto og login | logout | status`: the OpenGradient Chat session its relay asks for.

use std::time::Duration;

use clap::Subcommand;
use sotto_core::opengradient_login::{Listener, Session, DEFAULT_APP_URL};

use crate::exit;

#[derive(Subcommand)]
pub enum OgCommand {
    /// Authorise this device in the browser (OpenGradient Chat's CLI authorisation); the
    /// session is kept in the system keyring, or in the encrypted history where there is none.
    Login {
        /// The Chat app that hosts the authorisation page.
        #[arg(long, default_value = DEFAULT_APP_URL)]
        app_url: String,
        /// Print the address instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
        /// How long to wait for the authorisation, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout_s: u64,
    },
    /// Forget the stored session.
    Logout,
    /// Whether a session is stored, for whom, and until when.
    Status,
}

pub fn run(command: OgCommand) -> i32 {
    match command {
        OgCommand::Login { app_url, no_browser, timeout_s } => login(&app_url, no_browser, timeout_s),
        OgCommand::Logout => match Session::forget() {
            Ok(()) => {
                eprintln!("logged out: the OpenGradient session was removed from the keyring");
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::SETUP
            }
        },
        OgCommand::Status => status(),
    }
}

fn login(app_url: &str, no_browser: bool, timeout_s: u64) -> i32 {
    let rt = super::runtime();
    let result = rt.block_on(async {
        let listener = Listener::start(app_url).await?;
        eprintln!("Authorise Sotto in your browser (the page hands the session to this device only):\n  {}", listener.auth_url);
        if !no_browser && std::process::Command::new("xdg-open").arg(&listener.auth_url).spawn().is_err() {
            eprintln!("(no browser could be opened: open the address above yourself)");
        }
        eprintln!("waiting up to {timeout_s} s …");
        let session = listener.wait(Duration::from_secs(timeout_s)).await?;
        session.save_with(&mut super::history::ask_passphrase)?;
        Ok::<_, sotto_core::opengradient_login::LoginError>(session)
    });
    match result {
        Ok(session) => {
            println!("logged in{}", session.email().map(|e| format!(" as {e}")).unwrap_or_default());
            if let Some(relay) = session.relay_url() {
                eprintln!("OpenGradient's relay for this account: {relay}");
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::SETUP
        }
    }
}

fn status() -> i32 {
    if std::env::var("SOTTO_OG_TOKEN").is_ok_and(|t| !t.trim().is_empty()) {
        println!("using SOTTO_OG_TOKEN from the environment");
        return exit::OK;
    }
    match Session::load() {
        Some(s) => {
            let until = s
                .expires_at()
                .map(|t| humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(t)).to_string())
                .unwrap_or_else(|| "no expiry given".into());
            println!("logged in{} (token until {until}; refreshed before it expires)", s.email().map(|e| format!(" as {e}")).unwrap_or_default());
            exit::OK
        }
        None => {
            println!("not logged in: run `sotto og login`, or set SOTTO_OG_TOKEN");
            exit::SETUP
        }
    }
}
