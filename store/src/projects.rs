//! Projects: named groups of conversations with shared instructions and files. A file is kept
//! as the text the sandboxed reader gave for it (never the original bytes): that is what a
//! request in the project may carry.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::store::{now_ms, Store};
use crate::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub instructions: String,
    /// Whether requests in the project carry the user's memories.
    pub memory: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub files: Vec<ProjectFile>,
    pub conversations: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectFile {
    pub uid: String,
    pub name: String,
    pub kind: String,
    #[serde(skip)]
    pub text: String,
    pub chars: usize,
}

/// The longest project name.
pub const MAX_PROJECT_NAME: usize = 120;

/// A project's name goes into requests and dialogs: printable, short, not empty.
fn check_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    let invisible = |c: char| c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if name.is_empty() {
        return Err(StoreError::Unsupported("give the project a name".into()));
    }
    if name.chars().count() > MAX_PROJECT_NAME || name.chars().any(invisible) {
        return Err(StoreError::Unsupported(format!("a project's name is at most {MAX_PROJECT_NAME} printable characters")));
    }
    Ok(name)
}

/// The longest instructions a project keeps (they go with every request in it).
pub const MAX_PROJECT_INSTRUCTIONS: usize = 8_000;

fn check_instructions(instructions: &str) -> Result<(), StoreError> {
    if instructions.chars().count() > MAX_PROJECT_INSTRUCTIONS {
        return Err(StoreError::Unsupported("the instructions are longer than 8,000 characters; keep them short and put material in files".into()));
    }
    Ok(())
}

/// What the store would refuse of a project's name and instructions, for a front end to ask
/// before it does slower work (reading files) that a refusal would waste.
pub fn check_project(name: &str, instructions: &str) -> Result<(), StoreError> {
    check_name(name)?;
    check_instructions(instructions)
}

impl Store {
    /// A new, empty project; its name must be unused.
    pub fn create_project(&self, name: &str, instructions: &str) -> Result<String, StoreError> {
        self.create_project_with(name, instructions, true)
    }

    /// A new project; `memory` says whether its requests carry the user's memories.
    pub fn create_project_with(&self, name: &str, instructions: &str, memory: bool) -> Result<String, StoreError> {
        let name = check_name(name)?;
        check_instructions(instructions)?;
        if self.project_id(name)?.is_some() {
            return Err(StoreError::ProjectExists(name.into()));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = now_ms();
        self.conn
            .execute(
                "INSERT INTO projects (id, name, instructions, memory, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, name, instructions, memory, now],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(id)
    }

    fn project_id(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT id FROM projects WHERE name = ?1", [name.trim()], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// The id of the project named `name`.
    pub fn resolve_project(&self, name: &str) -> Result<String, StoreError> {
        self.project_id(name)?.ok_or_else(|| StoreError::NoProject(name.trim().into()))
    }

    pub fn add_project_file(&self, project: &str, name: &str, kind: &str, text: &str) -> Result<(), StoreError> {
        let id = self.resolve_project(project)?;
        let now = now_ms();
        self.atomically(|tx| {
            tx.execute(
                "INSERT INTO project_files (uid, project_id, name, kind, text, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![uuid::Uuid::new_v4().simple().to_string(), id, name, kind, text, now],
            )?;
            tx.execute("UPDATE projects SET updated_ms = ?2 WHERE id = ?1", params![id, now])
        })?;
        Ok(())
    }

    /// One project by name, with its files (their text included).
    pub fn project(&self, name: &str) -> Result<Project, StoreError> {
        let id = self.resolve_project(name)?;
        self.project_by_id(&id)
    }

    /// A project's name, by its id.
    pub fn project_name(&self, id: &str) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT name FROM projects WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))?
            .ok_or_else(|| StoreError::NoProject(id.into()))
    }

    pub fn project_by_id(&self, id: &str) -> Result<Project, StoreError> {
        self.load_project(id, true)
    }

    /// A project; its files' text only when `with_text` (a listing needs only their sizes).
    fn load_project(&self, id: &str, with_text: bool) -> Result<Project, StoreError> {
        let (name, instructions, created_ms, updated_ms, memory) = self
            .conn
            .query_row("SELECT name, instructions, created_ms, updated_ms, memory FROM projects WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, bool>(4)?))
            })
            .optional()
            .map_err(|e| self.sql_err(e))?
            .ok_or_else(|| StoreError::NoProject(id.into()))?;
        let mut stmt = self
            .conn
            .prepare("SELECT uid, name, kind, CASE WHEN ?2 THEN text ELSE '' END, length(text) FROM project_files WHERE project_id = ?1 ORDER BY created_ms, rowid")
            .map_err(|e| self.sql_err(e))?;
        let files = stmt
            .query_map(params![id, with_text], |r| {
                Ok(ProjectFile { uid: r.get(0)?, name: r.get(1)?, kind: r.get(2)?, text: r.get(3)?, chars: r.get::<_, i64>(4)? as usize })
            })
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        let conversations: i64 = self
            .conn
            .query_row("SELECT count(*) FROM conversations WHERE project_id = ?1", [id], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?;
        Ok(Project { id: id.into(), name, instructions, memory, created_ms: created_ms as u64, updated_ms: updated_ms as u64, files, conversations: conversations as usize })
    }

    /// Every project, most recently changed first (files by name and size, without their text).
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM projects ORDER BY updated_ms DESC, rowid DESC").map_err(|e| self.sql_err(e))?;
        let ids: Vec<String> =
            stmt.query_map([], |r| r.get(0)).map_err(|e| self.sql_err(e))?.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
        ids.iter().map(|id| self.load_project(id, false)).collect()
    }

    /// Renames a project; the new name must be unused.
    pub fn rename_project(&self, name: &str, new_name: &str) -> Result<(), StoreError> {
        let id = self.resolve_project(name)?;
        let new_name = check_name(new_name)?;
        if self.project_id(new_name)?.is_some_and(|other| other != id) {
            return Err(StoreError::ProjectExists(new_name.into()));
        }
        self.touch_project(&id, "name", &new_name)?;
        // The old name's page image must not linger in the log.
        self.checkpoint_after_delete()
    }

    pub fn set_project_instructions(&self, name: &str, instructions: &str) -> Result<(), StoreError> {
        check_instructions(instructions)?;
        let id = self.resolve_project(name)?;
        self.touch_project(&id, "instructions", &instructions)?;
        self.checkpoint_after_delete()
    }

    /// Whether requests in the project carry the user's memories.
    pub fn set_project_memory(&self, name: &str, on: bool) -> Result<(), StoreError> {
        let id = self.resolve_project(name)?;
        self.touch_project(&id, "memory", &on)
    }

    /// Sets one column (named by this module, never by a caller's input) and the change time.
    fn touch_project(&self, id: &str, column: &'static str, value: &dyn rusqlite::ToSql) -> Result<(), StoreError> {
        self.conn
            .execute(&format!("UPDATE projects SET {column} = ?2, updated_ms = ?3 WHERE id = ?1"), params![id, value, now_ms()])
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// Removes a file from a project, for real (zeroed pages, the log emptied).
    pub fn remove_project_file(&self, project: &str, file_uid: &str) -> Result<(), StoreError> {
        let id = self.resolve_project(project)?;
        let removed = self
            .conn
            .execute("DELETE FROM project_files WHERE project_id = ?1 AND uid = ?2", params![id, file_uid])
            .map_err(|e| self.sql_err(e))?;
        if removed == 0 {
            return Err(StoreError::NoProjectFile(file_uid.into()));
        }
        self.checkpoint_after_delete()
    }

    /// The conversations of a project, newest first.
    pub fn project_conversations(&self, name: &str) -> Result<Vec<crate::ConversationSummary>, StoreError> {
        let id = self.resolve_project(name)?;
        Ok(self.list_conversations()?.into_iter().filter(|c| c.project_id.as_deref() == Some(id.as_str())).collect())
    }

    /// History search within one project's conversations (newest matches first).
    pub fn search_project(&self, name: &str, text: &str, limit: usize) -> Result<Vec<crate::SearchHit>, StoreError> {
        let id = self.resolve_project(name)?;
        self.search_within(text, limit, Some(&id))
    }

    /// Puts a conversation into a project (or out of any, with `None`).
    pub fn set_conversation_project(&self, conversation: &str, project_id: Option<&str>) -> Result<(), StoreError> {
        let id = self.resolve_conversation(conversation)?;
        self.conn.execute("UPDATE conversations SET project_id = ?2 WHERE id = ?1", params![id, project_id]).map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// The project a conversation belongs to, if any.
    pub fn conversation_project(&self, conversation: &str) -> Result<Option<String>, StoreError> {
        let id = self.resolve_conversation(conversation)?;
        self.conn
            .query_row("SELECT project_id FROM conversations WHERE id = ?1", [&id], |r| r.get(0))
            .map_err(|e| self.sql_err(e))
    }

    /// Deletes a project with its files and its conversations, for real (zeroed pages, the
    /// search index's tokens dropped, the log emptied).
    pub fn delete_project(&self, name: &str) -> Result<String, StoreError> {
        let id = self.resolve_project(name)?;
        self.atomically(|tx| {
            tx.execute(
                "UPDATE network_ledger SET conversation_id = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE project_id = ?1)",
                [&id],
            )?;
            tx.execute("DELETE FROM conversations WHERE project_id = ?1", [&id])?;
            tx.execute("DELETE FROM projects WHERE id = ?1", [&id])
        })?;
        self.checkpoint_after_delete()?;
        Ok(id)
    }
}
