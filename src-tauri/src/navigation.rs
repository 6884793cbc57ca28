//! The window never leaves the app: every navigation to anything but the app's own pages is
//! cancelled (a model-written link clicked in a reply must not load an attacker's page inside
//! Sotto, where it could ask for the passphrase). Links are offered to copy instead (the UI).

use tauri::plugin::TauriPlugin;
use tauri::{Runtime, Url};

/// The origin the bundled front-end is served from on this platform: `tauri://localhost` on
/// Linux and macOS, `http://tauri.localhost` on Windows and Android. Exactly that, no port: on
/// Linux `*.localhost` resolves to this machine, so `http://tauri.localhost:8080` would be any
/// local web server.
const APP_ORIGIN: (&str, &str) = if cfg!(any(windows, target_os = "android")) { ("http", "tauri.localhost") } else { ("tauri", "localhost") };

/// Whether `url` is one of the app's own pages.
pub fn is_app_page(url: &Url) -> bool {
    // The empty page a webview starts on.
    if url.as_str() == "about:blank" {
        return true;
    }
    (url.scheme(), url.host_str()) == (APP_ORIGIN.0, Some(APP_ORIGIN.1)) && url.port().is_none() && url.username().is_empty()
}

/// A plugin whose only job is to refuse navigation away from the app.
pub fn guard<R: Runtime>() -> TauriPlugin<R> {
    tauri::plugin::Builder::new("navigation-guard")
        .on_navigation(|_, url| {
            let allowed = is_app_page(url);
            if !allowed {
                tracing::warn!(%url, "navigation away from the app was cancelled");
            }
            allowed
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::is_app_page;

    #[test]
    fn only_the_apps_own_pages_may_load() {
        let own = format!("{}://{}", super::APP_ORIGIN.0, super::APP_ORIGIN.1);
        for ok in [format!("{own}/"), format!("{own}/index.html"), "about:blank".to_string()] {
            assert!(is_app_page(&ok.parse().unwrap()), "{ok}");
        }
        let other = if super::APP_ORIGIN.0 == "tauri" { "http://tauri.localhost/" } else { "tauri://localhost/" };
        for bad in [
            other,
            &format!("{own}:8080/"),
            "http://tauri.localhost:8080/",
            "https://evil.example/login",
            "http://localhost:8080/",
            "tauri://evil.example/",
            "https://tauri.localhost.evil.example/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,<h1>hi</h1>",
            "about:srcdoc",
        ] {
            assert!(!is_app_page(&bad.parse().unwrap()), "{bad}");
        }
    }
}
