// The app's own commands, and nothing else, get permissions (`allow-<command>`), which
// `capabilities/default.json` grants to the main window.
const COMMANDS: &[&str] = &[
    "start_app",
    "unlock_history",
    "send_message",
    "stop_reply",
    "list_models",
    "get_receipt",
    "read_attachment",
    "generate_images",
    "list_gallery",
    "gallery_thumbnail",
    "gallery_image",
    "recheck_generation",
    "save_generation",
    "delete_generation",
    "image_to_workspace",
    "list_conversations",
    "open_conversation",
    "rename_conversation",
    "delete_conversation",
    "search_history",
    "recheck_reply",
    "recheck_history",
    "network_activity",
    "run_agent_task",
    "stop_agent",
    "answer_approval",
    "pick_workspace",
    "open_result_file",
    "read_workspace_image",
    "get_settings",
    "save_settings",
    "change_passphrase",
    "about",
    "opengradient_login",
    "list_projects",
    "open_project",
    "create_project",
    "update_project",
    "delete_project",
    "add_project_file",
    "remove_project_file",
    "move_conversation",
    "search_project",
    "list_memories",
    "add_memory",
    "edit_memory",
    "delete_memory",
    "set_memory_enabled",
];

fn main() {
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
