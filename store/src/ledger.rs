//! The network ledger: one row per request Sotto made ("what left this device"), kept
//! encrypted with the rest of the history.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub at_ms: u64,
    pub host: String,
    pub purpose: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub conversation_id: Option<String>,
    /// It carried something of the user's (always sealed to an attested key).
    pub user_content: bool,
    /// It carried an account credential in the clear to its destination.
    #[serde(default)]
    pub credential: bool,
}

impl Store {
    pub fn record_network(&self, r: &NetworkRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO network_ledger (at_ms, host, purpose, method, path, status, bytes_sent, bytes_received, conversation_id, user_content, credential)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![r.at_ms as i64, r.host, r.purpose, r.method, r.path, r.status, r.bytes_sent as i64, r.bytes_received as i64, r.conversation_id, r.user_content, r.credential],
            )
            .map(|_| ())
            .map_err(|e| self.sql_err(e))
    }

    /// Requests made at or after `since_ms`, oldest first.
    pub fn network_ledger(&self, since_ms: u64) -> Result<Vec<NetworkRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at_ms, host, purpose, method, path, status, bytes_sent, bytes_received, conversation_id, user_content, credential
                 FROM network_ledger WHERE at_ms >= ?1 ORDER BY at_ms, id",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([since_ms as i64], |r| {
                Ok(NetworkRecord {
                    at_ms: r.get::<_, i64>(0)? as u64,
                    host: r.get(1)?,
                    purpose: r.get(2)?,
                    method: r.get(3)?,
                    path: r.get(4)?,
                    status: r.get(5)?,
                    bytes_sent: r.get::<_, i64>(6)? as u64,
                    bytes_received: r.get::<_, i64>(7)? as u64,
                    conversation_id: r.get(8)?,
                    user_content: r.get(9)?,
                    credential: r.get(10)?,
                })
            })
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))
    }
}
