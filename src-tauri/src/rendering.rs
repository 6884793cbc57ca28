//! How WebKit draws the window.
//!
//! WebKit's accelerated compositing wants a GPU. Without one (no DRI render node: a virtual
//! machine, a remote session, a headless display) Mesa emulates it on the CPU, which costs about
//! 100 MiB in the web process and CPU time for nothing the user can see. Then the app asks WebKit
//! for its non-composited mode — unless the user has chosen either way with
//! `WEBKIT_DISABLE_COMPOSITING_MODE` themselves.

const SWITCH: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Call early in `main`, before any thread starts (it sets an environment variable).
pub fn choose_compositing() {
    if std::env::var_os(SWITCH).is_none() && !has_gpu_render_node() {
        tracing::info!("no GPU render node: WebKit draws without compositing");
        std::env::set_var(SWITCH, "1");
    }
}

#[cfg(target_os = "linux")]
fn has_gpu_render_node() -> bool {
    std::fs::read_dir("/dev/dri")
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("renderD")))
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn has_gpu_render_node() -> bool {
    true
}
