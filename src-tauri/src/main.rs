//! Sotto's desktop app. This crate only translates: commands from the web UI become calls into
//! `sotto-core`, and what the core reports goes back over IPC channels. Keys, the store and the
//! network stay on this side; the web view holds text to show and nothing else.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod navigation;
mod rendering;
mod state;

use state::AppState;
use tauri::Manager;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SOTTO_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    rendering::choose_compositing();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(navigation::guard())
        // The opener's own script would hand clicked links to the system browser; links are
        // never opened, only offered to copy.
        .plugin(tauri_plugin_opener::Builder::new().open_js_links_on_click(false).build())
        .manage(AppState::default())
        .setup(|app| {
            exit_on_signal(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::startup::start_app,
            commands::startup::unlock_history,
            commands::chat::send_message,
            commands::chat::stop_reply,
            commands::chat::list_models,
            commands::chat::get_receipt,
            commands::attachments::read_attachment,
            commands::images::generate_images,
            commands::images::list_gallery,
            commands::images::gallery_thumbnail,
            commands::images::gallery_image,
            commands::images::recheck_generation,
            commands::images::save_generation,
            commands::images::delete_generation,
            commands::images::image_to_workspace,
            commands::history::list_conversations,
            commands::history::open_conversation,
            commands::history::rename_conversation,
            commands::history::delete_conversation,
            commands::history::search_history,
            commands::history::recheck_reply,
            commands::history::recheck_history,
            commands::history::network_activity,
            commands::agent::run_agent_task,
            commands::agent::stop_agent,
            commands::agent::answer_approval,
            commands::agent::pick_workspace,
            commands::agent::open_result_file,
            commands::agent::read_workspace_image,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::settings::change_passphrase,
            commands::settings::about,
            commands::settings::opengradient_login,
            commands::projects::list_projects,
            commands::projects::open_project,
            commands::projects::create_project,
            commands::projects::update_project,
            commands::projects::delete_project,
            commands::projects::add_project_file,
            commands::projects::remove_project_file,
            commands::projects::move_conversation,
            commands::projects::search_project,
            commands::memory::list_memories,
            commands::memory::add_memory,
            commands::memory::edit_memory,
            commands::memory::delete_memory,
            commands::memory::set_memory_enabled,
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                // The local stack this app started goes away with it.
                handle.state::<AppState>().shut_down();
            }
        }),
        Err(e) => {
            eprintln!("error: Sotto's window could not be opened: {e}");
            std::process::exit(1);
        }
    }
}

/// SIGTERM or SIGINT (a session ending, a test driver closing the window) ends the app the
/// normal way, so that the local stack it started is stopped too.
fn exit_on_signal(handle: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            handle.exit(0);
        }
        #[cfg(not(unix))]
        let _ = handle;
    });
}
