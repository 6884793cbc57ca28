//! What a request in a project carries: the project's instructions and the parts of its files
//! most relevant to the prompt, assembled here on the device (a small word-overlap ranking over
//! ~2,000-character parts, within a budget) as one system message that is sealed with the rest.
//! The user sees which parts went; the receipt's request hash covers them.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{json, Value};
use sotto_store::Project;

/// The most project text one request carries.
pub const CONTEXT_CHARS: usize = 24_000;
/// The size of a file's parts.
const PART_CHARS: usize = 2_000;

/// One part of a project file that went with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedPart {
    pub file: String,
    /// 1-based.
    pub part: usize,
    pub of: usize,
}

/// The project's share of a request.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectContext {
    pub project: String,
    pub instructions_chars: usize,
    pub parts: Vec<UsedPart>,
    /// Files of the project none of whose parts went (not relevant enough, or over the budget).
    pub left_out: Vec<String>,
    #[serde(skip)]
    pub message: Value,
}

impl ProjectContext {
    /// One line for the user: what of the project goes with the message.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|p| format!("{} (part {} of {})", p.file, p.part, p.of)).collect();
        let files = if parts.is_empty() { "no file parts".to_string() } else { parts.join(", ") };
        let left = if self.left_out.is_empty() { String::new() } else { format!("; not sent: {}", self.left_out.join(", ")) };
        format!("project {}: its instructions ({} characters) and {files}{left}", self.project, self.instructions_chars)
    }
}

/// Splits text into parts of about `PART_CHARS`, at line ends where it can.
fn parts_of(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.len() + line.len() > PART_CHARS && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        let mut rest = line;
        while rest.len() > PART_CHARS {
            let mut cut = PART_CHARS;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            parts.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        current.push_str(rest);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3).map(str::to_lowercase).collect()
}

/// How many of the prompt's words a part holds (each counted once).
fn score(part: &str, wanted: &HashSet<String>) -> usize {
    if wanted.is_empty() {
        return 0;
    }
    words(part).intersection(wanted).count()
}

/// The system message for a request in `project` about `prompt`.
pub fn context(project: &Project, prompt: &str) -> ProjectContext {
    let wanted = words(prompt);
    // (file index, part index, of, text, score)
    let mut candidates = Vec::new();
    for (f, file) in project.files.iter().enumerate() {
        let parts = parts_of(&file.text);
        let of = parts.len();
        for (p, text) in parts.into_iter().enumerate() {
            let s = score(&text, &wanted);
            candidates.push((f, p, of, text, s));
        }
    }
    let total: usize = candidates.iter().map(|c| c.3.len()).sum();
    let mut budget = CONTEXT_CHARS.saturating_sub(project.instructions.len());
    let mut chosen: Vec<usize> = if total <= budget {
        (0..candidates.len()).collect()
    } else {
        // The most relevant parts first; among equals, the earlier ones.
        let mut order: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].4 > 0).collect();
        order.sort_by(|&a, &b| candidates[b].4.cmp(&candidates[a].4).then(a.cmp(&b)));
        let mut picked = Vec::new();
        for i in order {
            if candidates[i].3.len() <= budget {
                budget -= candidates[i].3.len();
                picked.push(i);
            }
        }
        picked
    };
    chosen.sort();
    let mut text = format!("You are working in the project \"{}\".", project.name);
    if !project.instructions.trim().is_empty() {
        text.push_str(&format!("\n\nThe project's instructions:\n{}", project.instructions.trim()));
    }
    let mut used = Vec::new();
    if !chosen.is_empty() {
        text.push_str("\n\nParts of the project's files that may help:");
    }
    for &i in &chosen {
        let (f, p, of, part, _) = &candidates[i];
        let name = &project.files[*f].name;
        let longest = part.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        text.push_str(&format!("\n\n[file `{name}`, part {} of {of}]\n{fence}\n{}\n{fence}", p + 1, part.trim_end()));
        used.push(UsedPart { file: name.clone(), part: p + 1, of: *of });
    }
    let left_out = project.files.iter().filter(|file| !used.iter().any(|u| u.file == file.name)).map(|file| file.name.clone()).collect();
    ProjectContext {
        project: project.name.clone(),
        instructions_chars: project.instructions.chars().count(),
        parts: used,
        left_out,
        message: json!({"role": "system", "content": text}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_store::ProjectFile;

    fn project(files: &[(&str, String)]) -> Project {
        Project {
            id: "p".into(),
            name: "Garden".into(),
            instructions: "Answer as a gardener.".into(),
            memory: true,
            created_ms: 0,
            updated_ms: 0,
            files: files.iter().map(|(n, t)| ProjectFile { uid: n.to_string(), name: n.to_string(), kind: "text".into(), chars: t.len(), text: t.clone() }).collect(),
            conversations: 0,
        }
    }

    #[test]
    fn small_projects_go_whole_with_their_instructions() {
        let p = project(&[("notes.txt", "Tomatoes need sun.".into())]);
        let c = context(&p, "anything");
        let text = c.message["content"].as_str().unwrap();
        assert!(text.contains("Answer as a gardener.") && text.contains("Tomatoes need sun."), "{text}");
        assert_eq!(c.parts, vec![UsedPart { file: "notes.txt".into(), part: 1, of: 1 }]);
    }

    #[test]
    fn large_projects_send_the_parts_that_match_the_prompt() {
        let filler = "Nothing to see in this line of the almanac.\n".repeat(60);
        let roses = format!("{filler}Roses want pruning in late winter, above an outward bud.\n{filler}");
        let p = project(&[("almanac.txt", filler.repeat(10)), ("roses.txt", roses)]);
        let c = context(&p, "When should roses be pruning?");
        let text = c.message["content"].as_str().unwrap();
        assert!(text.contains("Roses want pruning"), "the relevant part went");
        assert!(text.len() < CONTEXT_CHARS + 2_000);
        assert!(c.parts.iter().any(|u| u.file == "roses.txt"));
        assert!(c.summary().contains("roses.txt (part"), "{}", c.summary());
    }

    #[test]
    fn a_part_cannot_close_its_fence_and_long_lines_split_on_characters() {
        let p = project(&[("x.md", format!("```\n{}", "é".repeat(3_000)))]);
        let text = context(&p, "x").message["content"].as_str().unwrap().to_string();
        assert!(text.contains("````\n```"), "{}", &text[..200]);
    }
}
