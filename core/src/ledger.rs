//! "What left this device": the client's ledger entries, written to the encrypted store.

use std::sync::{Arc, Mutex};

use sotto_private_inference::ledger::{LedgerEntry, LedgerSink};
use sotto_store::{NetworkRecord, Store};

/// Writes each entry to the store on a connection of its own.
pub struct StoreLedger {
    store: Mutex<Store>,
}

impl StoreLedger {
    /// A sink on its own connection to `store`'s history (`None` if one cannot be opened).
    pub fn for_store(store: &Store) -> Option<Arc<dyn LedgerSink>> {
        match store.reopen() {
            Ok(s) => Some(Arc::new(StoreLedger { store: Mutex::new(s) })),
            Err(e) => {
                tracing::warn!("network requests will not be recorded: {e}");
                None
            }
        }
    }
}

impl LedgerSink for StoreLedger {
    fn record(&self, e: LedgerEntry) {
        let record = NetworkRecord {
            at_ms: e.at_ms,
            host: e.host,
            purpose: e.purpose,
            method: e.method,
            path: e.path,
            status: e.status,
            bytes_sent: e.bytes_sent,
            bytes_received: e.bytes_received,
            conversation_id: e.conversation_id,
            user_content: e.user_content,
            credential: e.credential,
        };
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = store.record_network(&record) {
            tracing::warn!("a network request could not be recorded: {err}");
        }
    }
}
