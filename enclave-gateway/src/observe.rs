//! What the gateway received, kept for the development stack's tests: it lets a test show that
//! the client's address never reached the enclave and that no prompt was sent before
//! attestation. Exposed on the loopback admin listener only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

const MAX_KEPT: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub peer: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
pub struct Observations {
    /// Off unless the admin listener runs: a gateway keeps no record of requests otherwise.
    enabled: bool,
    requests: Mutex<Vec<Observation>>,
    chat_requests: AtomicU64,
    attestations: AtomicU64,
    searches: AtomicU64,
    replying: AtomicU64,
}

#[derive(Serialize)]
pub struct ObservationReport {
    pub requests: Vec<Observation>,
    pub chat_requests: u64,
    pub attestations: u64,
    /// Web searches the enclave made.
    pub searches: u64,
    /// Sealed replies being made or sent right now.
    pub replies_in_progress: u64,
}

/// Counts a reply as in progress for as long as it is held.
pub struct ReplyInProgress<'a>(&'a Observations);

impl Drop for ReplyInProgress<'_> {
    fn drop(&mut self) {
        self.0.replying.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Observations {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, ..Default::default() }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn record(&self, o: Observation) {
        if !self.enabled {
            return;
        }
        if let Ok(mut r) = self.requests.lock() {
            if r.len() < MAX_KEPT {
                r.push(o);
            }
        }
    }

    pub fn chat_request(&self) {
        self.chat_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn search(&self) {
        self.searches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reply_started(&self) -> ReplyInProgress<'_> {
        self.replying.fetch_add(1, Ordering::Relaxed);
        ReplyInProgress(self)
    }

    pub fn attestation(&self) {
        self.attestations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn report(&self) -> ObservationReport {
        ObservationReport {
            requests: self.requests.lock().map(|r| r.clone()).unwrap_or_default(),
            chat_requests: self.chat_requests.load(Ordering::Relaxed),
            attestations: self.attestations.load(Ordering::Relaxed),
            searches: self.searches.load(Ordering::Relaxed),
            replies_in_progress: self.replying.load(Ordering::Relaxed),
        }
    }
}
