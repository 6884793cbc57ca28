//! Which passage of a page an answer quotes: the run of (at most two) sentences that share the
//! most words with the question, else the page's opening.

use sotto_enclave_protocol::search::MAX_QUOTE_CHARS;

/// Common words that say nothing about what a page is about.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "was", "were", "what", "which", "who", "whom", "how", "why", "when", "where", "does", "did",
    "with", "from", "that", "this", "these", "those", "there", "about", "into", "than", "then", "them", "they", "you", "your",
    "can", "could", "would", "should", "will", "has", "have", "had", "not", "but", "its", "his", "her", "our", "all", "any",
    "tell", "please", "explain", "describe",
];

/// The words of a query worth matching: lower case, three letters or more, not common.
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase) {
        if word.chars().count() >= 3 && !STOPWORDS.contains(&word.as_str()) && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// How many of `terms` occur in `text` (each counted once).
pub fn score(text: &str, terms: &[String]) -> usize {
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).collect();
    terms.iter().filter(|t| words.iter().any(|w| w == *t || (t.len() >= 5 && w.starts_with(t.as_str())))).count()
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = flat.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| *n == ' ') {
            out.push(std::mem::take(&mut current).trim().to_string());
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// The passage of `text` to quote for `query` (empty when the text is).
pub fn best(text: &str, query: &str) -> String {
    let terms = terms(query);
    let sentences = sentences(text);
    let mut best = (0usize, 0usize);
    for i in 0..sentences.len() {
        let s = score(&sentences[i], &terms);
        if s > best.0 {
            best = (s, i);
        }
    }
    let start = best.1;
    let mut quote = String::new();
    for s in sentences.iter().skip(start).take(2) {
        let candidate = if quote.is_empty() { s.clone() } else { format!("{quote} {s}") };
        if candidate.chars().count() > MAX_QUOTE_CHARS && !quote.is_empty() {
            break;
        }
        quote = candidate;
    }
    if quote.chars().count() > MAX_QUOTE_CHARS {
        quote = quote.chars().take(MAX_QUOTE_CHARS - 1).collect::<String>() + "…";
    }
    quote
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_that_answers_is_quoted() {
        let page = "Welcome to our site. Bread is baked daily. Sourdough uses a starter of wild yeast and lactic bacteria. Opening hours vary.";
        let q = best(page, "How does sourdough starter work?");
        assert!(q.starts_with("Sourdough uses a starter"), "{q}");
        assert!(q.chars().count() <= MAX_QUOTE_CHARS);
        assert_eq!(best("", "anything"), "");
        // Nothing matches: the opening is quoted.
        assert!(best(page, "quantum chromodynamics").starts_with("Welcome"));
        let long = "word ".repeat(500);
        assert_eq!(best(&long, "word").chars().count(), MAX_QUOTE_CHARS);
    }

    #[test]
    fn common_words_are_not_terms() {
        assert_eq!(terms("What is the Oblivious HTTP relay?"), vec!["oblivious", "http", "relay"]);
    }
}
