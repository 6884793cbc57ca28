//! The store's promises, checked on real SQLCipher files.

use std::path::Path;

use serde_json::json;
use sotto_store::{
    AgentStepRecord, ImageRecord, KdfParams, KeyFile, MemoryVault, MessageStatus, ReplyOutcome, Store, StoreError, Unlock, MATCH_END, MATCH_START,
};

const PASS: &str = "correct horse battery staple";

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

fn create(dir: &Path) -> Store {
    Store::open_or_create(dir, &Unlock::Passphrase(PASS), kdf()).unwrap()
}

/// A conversation with a user message and a verified reply, both containing `marker`.
fn converse(store: &Store, marker: &str) -> String {
    let id = store.new_conversation(&format!("About {marker}")).unwrap();
    store.add_user_message(&id, &format!("Tell me about {marker} please")).unwrap();
    let mut draft = store.begin_reply(&id, Some("scripted")).unwrap();
    store.extend_reply(&mut draft, "Here is ").unwrap();
    let text = format!("Here is what I know of {marker}.");
    store
        .finish_reply(draft, ReplyOutcome::Verified { text, model: "scripted".into(), receipt: json!({"output_hash": "ab"}), development: true, proof: Some(json!({"kept": marker})) })
        .unwrap();
    id
}

/// Every byte of every file under `dir`, with the file it came from.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn assert_nowhere_on_disk(dir: &Path, marker: &str) {
    let files = files_under(dir);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        assert!(!contains(&bytes, marker.as_bytes()), "{marker} found in plaintext in {}", path.display());
    }
}

#[test]
fn history_round_trips_and_no_plaintext_reaches_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let marker = "zq7-plaintext-canary-41";
    let store = create(&dir);
    let id = converse(&store, marker);
    // While open (the write-ahead log holds the new pages) …
    assert_nowhere_on_disk(&dir, marker);
    drop(store);
    // … and after closing.
    assert_nowhere_on_disk(&dir, marker);

    let store = Store::open(&dir, &Unlock::Passphrase(PASS)).unwrap();
    let list = store.list_conversations().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].messages, 2);
    let c = store.conversation(&id[..8]).unwrap();
    assert_eq!(c.messages[0].status, MessageStatus::Sent);
    assert_eq!(c.messages[1].status, MessageStatus::Development);
    assert_eq!(c.messages[1].content, format!("Here is what I know of {marker}."));
    assert_eq!(c.messages[1].receipt.as_ref().unwrap()["output_hash"], "ab");
    let hits = store.search(marker, 10).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[0].snippet.contains(&format!("{MATCH_START}{marker}{MATCH_END}")), "{:?}", hits[0].snippet);
}

#[test]
fn a_wrong_passphrase_says_so_and_opens_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    drop(create(tmp.path()));
    match Store::open(tmp.path(), &Unlock::Passphrase("wrong")) {
        Err(StoreError::WrongPassphrase) => {}
        Err(e) => panic!("expected WrongPassphrase, got {e}"),
        Ok(_) => panic!("opened with the wrong passphrase"),
    }
    assert!(Store::open(tmp.path(), &Unlock::Passphrase(PASS)).is_ok());
}

#[test]
fn changing_the_passphrase_re_encrypts_everything_under_a_new_key() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    converse(&store, "rekeyed");
    drop(store);
    let db_before = std::fs::read(Store::db_path(tmp.path())).unwrap();
    let old_key_file = std::fs::read(KeyFile::path(tmp.path())).unwrap();

    assert!(matches!(Store::change_passphrase(tmp.path(), "not it", "new passphrase", kdf()), Err(StoreError::WrongPassphrase)));
    assert!(matches!(Store::change_passphrase(tmp.path(), PASS, "short", kdf()), Err(StoreError::WeakPassphrase(_))));
    assert_eq!(std::fs::read(Store::db_path(tmp.path())).unwrap(), db_before, "a refused change touches nothing");
    Store::change_passphrase(tmp.path(), PASS, "new passphrase", kdf()).unwrap();

    assert_ne!(std::fs::read(Store::db_path(tmp.path())).unwrap(), db_before, "the database was re-encrypted");
    assert!(matches!(Store::open(tmp.path(), &Unlock::Passphrase(PASS)), Err(StoreError::WrongPassphrase)));
    let store = Store::open(tmp.path(), &Unlock::Passphrase("new passphrase")).unwrap();
    assert_eq!(store.list_conversations().unwrap().len(), 1);
    assert_eq!(store.search("rekeyed", 10).unwrap().len(), 2, "the search index came along");
    converse(&store, "afterwards");
    drop(store);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.contains("rekey") || n.ends_with(".next")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Audit finding 4: the old key file with the old passphrase opens nothing written since.
    let stolen = tempfile::tempdir().unwrap();
    std::fs::copy(Store::db_path(tmp.path()), Store::db_path(stolen.path())).unwrap();
    std::fs::write(KeyFile::path(stolen.path()), &old_key_file).unwrap();
    assert!(matches!(Store::open(stolen.path(), &Unlock::Passphrase(PASS)), Err(StoreError::Tampered { .. })));
}

#[test]
fn a_passphrase_change_is_refused_while_another_connection_is_open() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    converse(&store, "busy");
    let err = Store::change_passphrase(tmp.path(), PASS, "new passphrase", kdf()).unwrap_err();
    assert!(err.to_string().contains("another connection"), "{err}");
    drop(store);
    assert!(Store::open(tmp.path(), &Unlock::Passphrase(PASS)).is_ok(), "nothing changed");
}

#[test]
fn an_interrupted_passphrase_change_is_finished_or_undone_at_the_next_open() {
    let tmp = tempfile::tempdir().unwrap();
    drop(create(tmp.path()));
    // Interrupted before the swap: both staged files exist; the old store stays as it was.
    std::fs::write(tmp.path().join("history.db.rekey"), b"partial copy").unwrap();
    std::fs::write(tmp.path().join("key.json.next"), b"{}").unwrap();
    assert!(Store::open(tmp.path(), &Unlock::Passphrase(PASS)).is_ok());
    assert!(!tmp.path().join("history.db.rekey").exists() && !tmp.path().join("key.json.next").exists());

    // Interrupted between the two renames: the database is new, its key file is staged.
    Store::change_passphrase(tmp.path(), PASS, "new passphrase", kdf()).unwrap();
    let new_key_file = std::fs::read(KeyFile::path(tmp.path())).unwrap();
    let other = tempfile::tempdir().unwrap();
    drop(create(other.path()));
    std::fs::copy(KeyFile::path(other.path()), KeyFile::path(tmp.path())).unwrap();
    std::fs::write(tmp.path().join("key.json.next"), &new_key_file).unwrap();
    let store = Store::open(tmp.path(), &Unlock::Passphrase("new passphrase")).unwrap();
    assert!(store.list_conversations().is_ok());
    drop(store);

    // A staged key file beside a database it was not made for is never promoted (that would
    // lock the user out of the database the current key opens).
    let current = std::fs::read(KeyFile::path(tmp.path())).unwrap();
    let mut foreign: serde_json::Value = serde_json::from_slice(&current).unwrap();
    foreign["db_salt"] = json!("00112233445566778899aabbccddeeff");
    std::fs::write(tmp.path().join("key.json.next"), foreign.to_string()).unwrap();
    assert!(Store::open(tmp.path(), &Unlock::Passphrase("new passphrase")).is_ok());
    assert!(!tmp.path().join("key.json.next").exists());
    assert_eq!(std::fs::read(KeyFile::path(tmp.path())).unwrap(), current);
}

#[test]
fn a_delete_empties_the_log_once_no_other_connection_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let id = converse(&store, "lingering");
    let wal = tmp.path().join("history.db-wal");
    // An idle connection keeps SQLite from deleting the log when the others close.
    let idle = store.reopen().unwrap();
    // A reader in the middle of a transaction keeps the log from being emptied.
    let reader = store.reopen().unwrap();
    reader.batch(|r| {
        r.list_conversations()?;
        store.delete_conversation(&id)?;
        assert!(!store.checkpoint()?, "a checkpoint blocked by a reader is reported as incomplete");
        Ok(())
    })
    .unwrap();
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    drop(reader);
    drop(store);
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "emptied when the deleting connection closed");
    drop(idle);
}

#[test]
fn a_key_file_from_another_store_does_not_open_this_one() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(create(a.path()));
    drop(create(b.path()));
    std::fs::copy(KeyFile::path(a.path()), KeyFile::path(b.path())).unwrap();
    // Same passphrase, but a different data key: SQLCipher refuses page 1.
    assert!(matches!(Store::open(b.path(), &Unlock::Passphrase(PASS)), Err(StoreError::Tampered { .. })));
}

#[test]
fn a_keyring_store_opens_with_its_keyring_entry_and_not_without() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = MemoryVault::default();
    let store = Store::open_or_create(tmp.path(), &Unlock::Keyring(&vault), kdf()).unwrap();
    converse(&store, "keyring");
    drop(store);
    let text = std::fs::read_to_string(KeyFile::path(tmp.path())).unwrap();
    assert!(text.contains("\"keyring\"") && !text.contains("wrapped_key"), "{text}");
    assert_eq!(Store::open(tmp.path(), &Unlock::Keyring(&vault)).unwrap().list_conversations().unwrap().len(), 1);
    assert!(matches!(Store::open(tmp.path(), &Unlock::Keyring(&MemoryVault::default())), Err(StoreError::KeyringKeyMissing(_))));
    assert!(Store::open(tmp.path(), &Unlock::Passphrase(PASS)).is_err());
}

/// Flips one byte at `offset` of the closed database file.
fn flip(dir: &Path, offset: usize) {
    let path = Store::db_path(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
}

/// Reads everything the store holds.
fn read_all(dir: &Path) -> Result<usize, StoreError> {
    let store = Store::open(dir, &Unlock::Passphrase(PASS))?;
    let mut n = 0;
    for c in store.list_conversations()? {
        n += store.conversation(&c.id)?.messages.len();
    }
    n += store.search("canary", 1000)?.len() + store.search("padding text", 1000)?.len();
    n += store.gallery(1000, 0)?.len() + store.projects()?.len() + store.network_ledger(0)?.len();
    Ok(n)
}

#[test]
fn a_changed_byte_anywhere_in_the_database_is_reported_as_tampering_not_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    for i in 0..40 {
        converse(&store, &format!("canary {i} {}", "padding text ".repeat(40)));
    }
    drop(store);
    let clean = std::fs::read(Store::db_path(tmp.path())).unwrap();
    assert!(read_all(tmp.path()).unwrap() > 80);
    let pages = clean.len() / 4096;
    assert!(pages > 5, "{pages} pages");
    // Page 1 (after the clear salt), a page in the middle holding a message, the last page.
    let key = KeyFile::load(tmp.path()).unwrap().unwrap().unlock(&Unlock::Passphrase(PASS), tmp.path()).unwrap();
    let plain = decrypted_pages(&clean, &key);
    // Decrypted, page 1 gives 4000 bytes (its salt is clear) and every later page 4016.
    let page = |p: usize| &plain[4000 + (p - 1) * 4016..4000 + p * 4016];
    let middle = (pages / 3..pages).find(|&p| contains(page(p), b"canary 2")).expect("a page holding a message");
    for offset in [100, middle * 4096 + 1000, clean.len() - 200] {
        std::fs::write(Store::db_path(tmp.path()), &clean).unwrap();
        flip(tmp.path(), offset);
        match read_all(tmp.path()) {
            Err(StoreError::Tampered { detail, .. }) => assert!(detail.contains("integrity"), "{detail}"),
            Err(e) => panic!("byte {offset}: expected Tampered, got {e}"),
            Ok(n) => panic!("byte {offset}: a changed database was read ({n} rows)"),
        }
    }
}

#[test]
fn search_marks_only_the_match_even_in_markdown_with_its_own_emphasis() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let id = store.new_conversation("Bold").unwrap();
    store.add_user_message(&id, "Here is **wombat** and **more** in `code`").unwrap();
    let snippet = store.search("wombat", 10).unwrap().remove(0).snippet;
    assert_eq!(snippet, format!("Here is **{MATCH_START}wombat{MATCH_END}** and **more** in `code`"));
}

#[test]
fn search_matches_words_prefixes_phrases_and_accents_and_forgets_deleted_conversations() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let a = store.new_conversation("Café plans").unwrap();
    store.add_user_message(&a, "Where should we meet? The café near the station.").unwrap();
    let b = store.new_conversation("Quarterly report").unwrap();
    store.add_user_message(&b, "Summarise the quarterly revenue figures").unwrap();
    assert_eq!(store.search("cafe", 10).unwrap().len(), 1, "diacritics are folded");
    assert_eq!(store.search("quart", 10).unwrap()[0].conversation_id, b, "the last word is a prefix");
    assert_eq!(store.search("quarterly revenue", 10).unwrap().len(), 1);
    assert_eq!(store.search("quarterly café", 10).unwrap().len(), 0, "every word must match");
    assert_eq!(store.search("\"revenue\" OR NEAR(", 10).unwrap().len(), 0, "operators are literal, not errors");
    assert!(matches!(store.search("  ", 10), Err(StoreError::EmptySearch)));
    store.delete_conversation(&a).unwrap();
    assert!(store.search("cafe", 10).unwrap().is_empty());
    assert_eq!(store.list_conversations().unwrap().len(), 1);
    assert!(matches!(store.conversation(&a), Err(StoreError::NoConversation(_))));
}

#[test]
fn conversation_ids_resolve_by_unique_prefix_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let ids: Vec<String> = (0..40).map(|i| store.new_conversation(&format!("c{i}")).unwrap()).collect();
    assert_eq!(store.resolve_conversation(&ids[3][..12]).unwrap(), ids[3]);
    assert!(matches!(store.resolve_conversation("%"), Err(StoreError::NoConversation(_))));
    assert!(matches!(store.resolve_conversation(""), Err(StoreError::NoConversation(_))));
    // With 40 random ids, some single hex digit starts more than one of them.
    let ambiguous = (0..16).map(|d| format!("{d:x}")).any(|p| matches!(store.resolve_conversation(&p), Err(StoreError::AmbiguousConversation(_))));
    assert!(ambiguous);
}

#[test]
fn a_failed_reply_keeps_its_reason_and_no_text_and_is_left_out_of_follow_ups() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let id = store.new_conversation("t").unwrap();
    store.add_user_message(&id, "first").unwrap();
    let mut d = store.begin_reply(&id, None).unwrap();
    store.extend_reply(&mut d, "forged text").unwrap();
    store.finish_reply(d, ReplyOutcome::Failed { reason: "the reply was tampered with".into() }).unwrap();
    let c = store.conversation(&id).unwrap();
    assert_eq!(c.messages[1].status, MessageStatus::Failed);
    assert_eq!(c.messages[1].content, "");
    assert_eq!(c.messages[1].status_detail.as_deref(), Some("the reply was tampered with"));
    assert!(store.search("forged", 10).unwrap().is_empty());
    let (_, turns) = store.chat_context(&id).unwrap();
    assert_eq!(turns, vec![json!({"role": "user", "content": "first"})]);
}

#[test]
fn everything_else_is_kept_and_goes_with_its_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let id = converse(&store, "records");
    let msg = store.conversation(&id).unwrap().messages[0].uid.clone();
    store.add_attachment(&msg, "data.csv", "text/csv", b"a,b\n1,2\n").unwrap();
    store
        .add_image(&ImageRecord {
            conversation_id: Some(id.clone()),
            prompt: "a cat".into(),
            model: None,
            media_type: "image/png".into(),
            bytes: vec![1, 2, 3],
            receipt: None,
        })
        .unwrap();
    let step = AgentStepRecord {
        conversation_id: Some(id.clone()),
        run_id: "run1".into(),
        step: 1,
        tool: "run_python".into(),
        input: "print(1)".into(),
        output: "1".into(),
        files: vec!["chart.png".into()],
        duration_ms: 12,
        sent_bytes: Some(b"{...}".to_vec()),
    };
    store.record_agent_step(&step).unwrap();
    store.set_setting("theme", &json!("dark")).unwrap();
    store.set_setting("theme", &json!("light")).unwrap();

    assert_eq!(store.attachments(&msg).unwrap()[0].bytes, b"a,b\n1,2\n");
    let steps = store.agent_steps("run1").unwrap();
    assert_eq!((steps[0].files.clone(), steps[0].sent_bytes.clone()), (step.files.clone(), step.sent_bytes.clone()));
    assert_eq!(store.setting("theme").unwrap(), Some(json!("light")));
    assert_eq!(store.setting("missing").unwrap(), None);

    store.delete_conversation(&id).unwrap();
    assert!(store.attachments(&msg).unwrap().is_empty());
    assert!(store.agent_steps("run1").unwrap().is_empty());
}

#[test]
fn the_archive_carries_everything_encrypted_and_imports_once() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = "archive-canary-9x";
    let store = create(&tmp.path().join("a"));
    let id = converse(&store, marker);
    let msg = store.conversation(&id).unwrap().messages[0].uid.clone();
    store.add_attachment(&msg, "n.txt", "text/plain", b"hello").unwrap();
    let archive = tmp.path().join("history.sotto-archive");
    let written = store.export_archive(&archive, "archive pass").unwrap();
    assert_eq!((written.conversations, written.messages, written.attachments), (1, 2, 1));
    assert!(!contains(&std::fs::read(&archive).unwrap(), marker.as_bytes()));
    assert!(matches!(store.export_archive(&archive, "x"), Err(StoreError::AlreadyExists(_))));

    let other = Store::open_or_create(&tmp.path().join("b"), &Unlock::Passphrase("other"), kdf()).unwrap();
    assert!(matches!(other.import_archive(&archive, "wrong"), Err(StoreError::ArchiveUnreadable(_))));
    let added = other.import_archive(&archive, "archive pass").unwrap();
    assert_eq!(added, written);
    assert_eq!(other.search(marker, 10).unwrap().len(), 2);
    assert_eq!(other.attachments(&msg).unwrap()[0].bytes, b"hello");
    let again = other.import_archive(&archive, "archive pass").unwrap();
    assert_eq!((again.conversations, again.messages), (0, 0), "a second import adds nothing");

    // A changed byte deep in the archive is caught, not imported as garbage.
    let mut bytes = std::fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n - 300] ^= 1;
    let bad = tmp.path().join("bad.sotto-archive");
    std::fs::write(&bad, bytes).unwrap();
    let fresh = Store::open_or_create(&tmp.path().join("c"), &Unlock::Passphrase("c"), kdf()).unwrap();
    match fresh.import_archive(&bad, "archive pass") {
        Err(StoreError::Tampered { .. }) | Err(StoreError::ArchiveUnreadable(_)) => {}
        other => panic!("a tampered archive was not refused: {:?}", other.map(|_| ())),
    }
    assert!(fresh.list_conversations().unwrap().is_empty(), "nothing half-imported");
    std::fs::write(tmp.path().join("not.sotto-archive"), b"plain text, not an archive at all").unwrap();
    assert!(matches!(fresh.import_archive(&tmp.path().join("not.sotto-archive"), "x"), Err(StoreError::ArchiveUnreadable(_))));
}

/// SQLCipher 4 pages with the default layout (4096 bytes; the last 80 are IV + HMAC), decrypted
/// with the data key. Page 1 starts with the 16-byte salt in the clear.
fn decrypted_pages(db: &[u8], key: &[u8; 32]) -> Vec<u8> {
    use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
    let mut out = Vec::new();
    for (i, page) in db.chunks(4096).enumerate() {
        let start = if i == 0 { 16 } else { 0 };
        let mut data = page[start..4016].to_vec();
        let iv = &page[4016..4032];
        let dec = cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into());
        out.extend_from_slice(dec.decrypt_padded_mut::<NoPadding>(&mut data).unwrap());
    }
    out
}

#[test]
fn a_deleted_conversation_is_gone_even_for_someone_with_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    converse(&store, "kept-canary-1");
    let doomed = converse(&store, "deleted-canary-2");
    store.delete_conversation(&doomed).unwrap();
    drop(store);
    let key = KeyFile::load(tmp.path()).unwrap().unwrap().unlock(&Unlock::Passphrase(PASS), tmp.path()).unwrap();
    let plain = decrypted_pages(&std::fs::read(Store::db_path(tmp.path())).unwrap(), &key);
    // The decryption is right (the kept conversation is readable) and the deleted one is not there.
    assert!(contains(&plain, b"kept-canary-1"));
    assert!(!contains(&plain, b"deleted-canary-2"));
    assert!(!contains(&plain, b"deleted"), "not even the search index's tokens remain");
}

#[test]
fn regenerate_deletes_a_message_and_everything_after_it_and_nothing_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = create(dir.path());
    let id = converse(&store, "firstturnmarker");
    let second = store.add_user_message(&id, "secondturnmarker question").unwrap();
    let mut draft = store.begin_reply(&id, None).unwrap();
    store.extend_reply(&mut draft, "secondturnmarker answer").unwrap();
    store.finish_reply(draft, ReplyOutcome::Unfinished { reason: "stopped".into() }).unwrap();
    let other = converse(&store, "otherconversation");

    assert_eq!(store.delete_messages_from(&id, &second).unwrap(), 2);
    let left = store.conversation(&id).unwrap().messages;
    assert_eq!(left.len(), 2, "the first turn stays");
    assert!(left.iter().all(|m| !m.content.contains("secondturnmarker")));
    assert!(store.search("secondturnmarker", 10).unwrap().is_empty(), "the index forgets them too");
    assert_eq!(store.conversation(&other).unwrap().messages.len(), 2);
    // A message of another conversation, or one already gone, is refused.
    assert!(matches!(store.delete_messages_from(&other, &second), Err(StoreError::NoMessage(_))));
    // A second connection sees the same history.
    assert_eq!(store.reopen().unwrap().conversation(&id).unwrap().messages.len(), 2);
}

/// Audit finding 7: rows from an archive are marked imported (shown, never sent back as verified
/// turns), and an archive cannot add rows to a conversation that is already here.
#[test]
fn imported_rows_are_marked_and_never_sent_as_verified_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(&tmp.path().join("a"));
    let id = converse(&store, "imported");
    let (_, turns) = store.chat_context(&id).unwrap();
    assert_eq!(turns.len(), 2, "turns verified here are sent");
    let archive = tmp.path().join("h.sotto-archive");
    store.export_archive(&archive, "archive pass").unwrap();

    let other = Store::open_or_create(&tmp.path().join("b"), &Unlock::Passphrase(PASS), kdf()).unwrap();
    other.import_archive(&archive, "archive pass").unwrap();
    let conversation = other.conversation(&id).unwrap();
    assert!(conversation.messages.iter().all(|m| m.imported), "every imported row is marked");
    assert_eq!(conversation.messages[1].status, MessageStatus::Development, "its status is still shown as it was");
    let (_, turns) = other.chat_context(&id).unwrap();
    assert!(turns.is_empty(), "imported turns are not sent: {turns:?}");
    other.add_user_message(&id, "and now?").unwrap();
    assert_eq!(other.chat_context(&id).unwrap().1.len(), 1, "turns made here are");

    // Back into the first store, after a reply there was deleted: the archive must not put it back.
    let reply = store.conversation(&id).unwrap().messages[1].uid.clone();
    store.delete_messages_from(&id, &reply).unwrap();
    let added = store.import_archive(&archive, "archive pass").unwrap();
    assert_eq!(added.messages, 0, "no rows added to a conversation already here");
    assert_eq!(store.conversation(&id).unwrap().messages.len(), 1);
    assert!(!store.conversation(&id).unwrap().messages[0].imported);
}

fn generation(prompt: &str, pixels: &[u8]) -> sotto_store::NewGeneration {
    sotto_store::NewGeneration {
        prompt: prompt.into(),
        settings: json!({"size": "256x256", "n": 2, "seed": 7, "style": null, "model": null}),
        model: "sotto-demo-images".into(),
        receipt: json!({"output_hash": "ab"}),
        material: Some("{}".into()),
        reply: [b"{\"data\":\"", pixels, b"\"}"].concat(),
        outputs: (0..2)
            .map(|i| (sotto_store::ImageOutput { index: i, width: 256, height: 256, sha256: format!("{i:064}") }, [pixels, b"-thumb"].concat()))
            .collect(),
    }
}

#[test]
fn the_gallery_keeps_generations_newest_first_and_deletes_them_for_real() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let kept = store.add_generation(&generation("kept-picture-canary", b"KEPTPIXELS")).unwrap();
    let doomed = store.add_generation(&generation("doomed-picture-canary", b"DOOMEDPIXELS")).unwrap();
    assert_eq!(store.gallery_len().unwrap(), 2);
    let listed = store.gallery(10, 0).unwrap();
    assert_eq!(listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), vec![doomed.as_str(), kept.as_str()]);
    assert_eq!(listed[0].outputs.len(), 2);
    assert_eq!(listed[0].settings["seed"], 7);
    assert_eq!(store.gallery(1, 1).unwrap()[0].id, kept);
    assert_eq!(store.generation(&kept[..6]).unwrap().prompt, "kept-picture-canary");
    assert_eq!(store.thumbnail(&kept, 1).unwrap(), b"KEPTPIXELS-thumb");
    assert!(matches!(store.thumbnail(&kept, 5), Err(StoreError::NoImage(_))));
    assert!(matches!(store.generation("zz"), Err(StoreError::NoImage(_))));
    assert!(store.generation_reply(&kept).unwrap().0.windows(10).any(|w| w == b"KEPTPIXELS"));

    store.delete_generation(&doomed[..8]).unwrap();
    assert_eq!(store.gallery_len().unwrap(), 1);
    assert!(matches!(store.thumbnail(&doomed, 0), Err(StoreError::NoImage(_))));
    drop(store);
    let key = KeyFile::load(tmp.path()).unwrap().unwrap().unlock(&Unlock::Passphrase(PASS), tmp.path()).unwrap();
    let plain = decrypted_pages(&std::fs::read(Store::db_path(tmp.path())).unwrap(), &key);
    assert!(contains(&plain, b"kept-picture-canary") && contains(&plain, b"KEPTPIXELS"));
    for gone in [&b"doomed-picture-canary"[..], b"DOOMEDPIXELS"] {
        assert!(!contains(&plain, gone), "{} survived the delete", String::from_utf8_lossy(gone));
    }
}

#[test]
fn the_archive_carries_the_gallery_and_imports_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(&tmp.path().join("a"));
    let id = store.add_generation(&generation("archived picture", b"ARCHIVEDPIXELS")).unwrap();
    let archive = tmp.path().join("gallery.sotto-archive");
    let written = store.export_archive(&archive, "archive pass").unwrap();
    assert_eq!(written.image_generations, 1);
    assert!(!contains(&std::fs::read(&archive).unwrap(), b"ARCHIVEDPIXELS"));
    let other = Store::open_or_create(&tmp.path().join("b"), &Unlock::Passphrase("other"), kdf()).unwrap();
    assert_eq!(other.import_archive(&archive, "archive pass").unwrap().image_generations, 1);
    assert_eq!(other.generation(&id).unwrap().outputs.len(), 2);
    assert_eq!(other.thumbnail(&id, 0).unwrap(), b"ARCHIVEDPIXELS-thumb");
    assert_eq!(other.import_archive(&archive, "archive pass").unwrap().image_generations, 0, "a second import adds nothing");
    assert_eq!(other.gallery_len().unwrap(), 1);
}

#[test]
fn a_deleted_project_takes_its_files_and_conversations_with_it_for_real() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    store.create_project("Garden", "answer as a gardener-canary").unwrap();
    assert!(matches!(store.create_project("Garden", ""), Err(StoreError::ProjectExists(_))));
    store.add_project_file("Garden", "roses.txt", "text", "project-file-canary roses").unwrap();
    let inside = converse(&store, "project-chat-canary");
    let project = store.project("Garden").unwrap();
    store.set_conversation_project(&inside, Some(&project.id)).unwrap();
    let outside = converse(&store, "kept-chat-canary");
    let listed = store.projects().unwrap();
    assert_eq!((listed.len(), listed[0].files.len(), listed[0].conversations), (1, 1, 1));
    assert_eq!(store.conversation_project(&inside).unwrap().as_deref(), Some(project.id.as_str()));
    assert_eq!(store.conversation_project(&outside).unwrap(), None);

    store.delete_project("Garden").unwrap();
    assert!(matches!(store.project("Garden"), Err(StoreError::NoProject(_))));
    assert!(store.conversation(&inside).is_err(), "its conversations went with it");
    assert!(store.conversation(&outside).is_ok());
    drop(store);
    let key = KeyFile::load(tmp.path()).unwrap().unwrap().unlock(&Unlock::Passphrase(PASS), tmp.path()).unwrap();
    let plain = decrypted_pages(&std::fs::read(Store::db_path(tmp.path())).unwrap(), &key);
    assert!(contains(&plain, b"kept-chat-canary"));
    for gone in [&b"gardener-canary"[..], b"project-file-canary", b"project-chat-canary"] {
        assert!(!contains(&plain, gone), "{} survived the delete", String::from_utf8_lossy(gone));
    }
}

#[test]
fn a_project_refuses_a_blank_name_and_overlong_instructions_and_keeps_what_it_had() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let long = "x".repeat(sotto_store::MAX_PROJECT_INSTRUCTIONS + 1);
    let refused = store.create_project("Garden", &long).unwrap_err();
    assert!(refused.to_string().contains("longer than 8,000 characters"), "{refused}");
    assert!(store.create_project("  ", "").unwrap_err().to_string().contains("give the project a name"));
    assert!(store.projects().unwrap().is_empty(), "nothing was created");
    store.create_project("Garden", "short").unwrap();
    assert!(store.set_project_instructions("Garden", &long).is_err());
    assert_eq!(store.project("Garden").unwrap().instructions, "short");
    assert!(sotto_store::check_project("Garden", &long).is_err());
    assert!(sotto_store::check_project("Garden", "short").is_ok());
}

#[test]
fn memories_are_found_by_their_words_and_a_deleted_one_is_gone_for_real() {
    let tmp = tempfile::tempdir().unwrap();
    let store = create(tmp.path());
    let dog = store.add_memory("My dog is called Biscuit doggone-canary").unwrap();
    store.add_memory("I live in Lisbon kept-memory-canary").unwrap();
    assert_eq!(store.memories().unwrap().len(), 2);
    let found = store.relevant_memories("What is my dog called?", 5).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].text.contains("Biscuit"));
    assert!(store.relevant_memories("Explain TCP", 5).unwrap().is_empty());
    assert!(store.memory_enabled().unwrap());
    store.set_memory_enabled(false).unwrap();
    assert!(!store.memory_enabled().unwrap());
    store.delete_memory(&dog[..8]).unwrap();
    assert!(store.relevant_memories("dog", 5).unwrap().is_empty());
    drop(store);
    let key = KeyFile::load(tmp.path()).unwrap().unwrap().unlock(&Unlock::Passphrase(PASS), tmp.path()).unwrap();
    let plain = decrypted_pages(&std::fs::read(Store::db_path(tmp.path())).unwrap(), &key);
    assert!(contains(&plain, b"kept-memory-canary"));
    assert!(!contains(&plain, b"doggone-canary"), "the deleted memory survived");
    assert!(!contains(&plain, b"biscuit"), "not even its words in the index");
}
