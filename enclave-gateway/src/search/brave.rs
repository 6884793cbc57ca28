//! The Brave Search API (`GET /res/v1/web/search`), or any service speaking its format, called
//! from inside the enclave. The key is the gateway's (`SOTTO_SEARCH_API_KEY`); the device never
//! holds it, and it goes only to the provider's address (https, no redirects). Cited pages are
//! fetched here too, so the quotes are what the pages said — from public https addresses only
//! (see [`super::public_address`]).

use futures::future::BoxFuture;
use serde_json::Value;

use super::page_text::html_to_text;
use super::{Hit, SearchError, SearchProvider};
use crate::upstream_body::{self, BodyError};

/// The most read of a search answer or of one page.
const MAX_ANSWER_BYTES: usize = 2 << 20;
const MAX_PAGE_BYTES: usize = 1 << 20;
/// The most redirects a page may take (each one checked again).
const MAX_REDIRECTS: usize = 3;

/// Set only by tests (and measured into PCR1 when set): pages and the provider may be on this
/// machine and over plain http.
pub fn local_allowed() -> bool {
    std::env::var("SOTTO_SEARCH_ALLOW_LOCAL").is_ok_and(|v| v == "1")
}
const RESULTS: usize = 5;

pub struct BraveSearch {
    base_url: String,
    api_key: Option<String>,
    /// For the provider: no redirects (its key must not follow one elsewhere).
    api: reqwest::Client,
    /// For pages: public addresses only, every redirect checked.
    pages: reqwest::Client,
    local: bool,
}

impl BraveSearch {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let local = local_allowed();
        if !base_url.starts_with("https://") && !local {
            anyhow::bail!("the search provider must be reached over https (its key and every query go to it): {base_url}");
        }
        let agent = concat!("sotto-enclave-gateway/", env!("CARGO_PKG_VERSION"));
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error("the page redirects too many times");
            }
            match super::public_address::check(attempt.url(), local) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(format!("the page redirects to an address the enclave does not fetch: {why}")),
            }
        });
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: std::env::var("SOTTO_SEARCH_API_KEY").ok().filter(|k| !k.is_empty()),
            api: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent(agent).build()?,
            pages: reqwest::Client::builder()
                .redirect(redirects)
                .dns_resolver(std::sync::Arc::new(super::public_address::PublicResolver { local }))
                .user_agent(agent)
                .build()?,
            local,
        })
    }

    async fn query(&self, query: &str) -> Result<Vec<Hit>, SearchError> {
        let mut request = self
            .api
            .get(format!("{}/res/v1/web/search", self.base_url))
            .query(&[("q", query), ("count", &RESULTS.to_string())])
            .header("accept", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("x-subscription-token", key);
        }
        let response = request.send().await.map_err(|e| SearchError(format!("the search provider cannot be reached ({})", e.without_url())))?;
        let status = response.status().as_u16();
        let bytes = read_capped(response, MAX_ANSWER_BYTES, "the search provider").await?;
        match status {
            200..=299 => hits_of(&bytes),
            401 | 403 => Err(SearchError(format!("the enclave's key for the search provider was refused (HTTP {status})"))),
            429 => Err(SearchError("the search provider is busy (too many requests); try again in a minute".into())),
            _ => Err(SearchError(format!("the search provider answered HTTP {status}"))),
        }
    }

    async fn fetch(&self, url: &str) -> Result<String, SearchError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| SearchError("the page's address is not a URL".into()))?;
        super::public_address::check(&parsed, self.local).map_err(SearchError)?;
        let response = self.pages.get(parsed).send().await.map_err(|e| SearchError(format!("the page cannot be fetched ({})", e.without_url())))?;
        if !response.status().is_success() {
            return Err(SearchError(format!("the page answered HTTP {}", response.status().as_u16())));
        }
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let bytes = read_capped(response, MAX_PAGE_BYTES, "the page").await?;
        let html = kind.starts_with("text/html") || kind.starts_with("application/xhtml");
        if !html && !kind.starts_with("text/plain") {
            return Err(SearchError(format!("the page is not text (it is `{kind}`)")));
        }
        // Parsing is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || {
            let text = String::from_utf8_lossy(&bytes);
            if html { html_to_text(&text).1 } else { text.into_owned() }
        })
        .await
        .map_err(|_| SearchError("the page could not be read".into()))
    }
}

/// The results of a Brave answer: `web.results[] {title, url, description}`.
fn hits_of(bytes: &[u8]) -> Result<Vec<Hit>, SearchError> {
    let answer: Value = serde_json::from_slice(bytes).map_err(|_| SearchError("the search provider's answer is not JSON".into()))?;
    let Some(results) = answer.pointer("/web/results").and_then(Value::as_array) else {
        // No `web` section: Brave's way of saying it found nothing.
        return if answer.get("type").is_some() { Ok(Vec::new()) } else { Err(SearchError("the search provider's answer has no results list".into())) };
    };
    Ok(results
        .iter()
        .filter_map(|r| {
            let field = |k: &str| r.get(k).and_then(Value::as_str).map(|s| html_to_text(s).1);
            Some(Hit { title: field("title")?, url: r.get("url")?.as_str()?.to_string(), snippet: field("description").unwrap_or_default() })
        })
        .collect())
}

async fn read_capped(response: reqwest::Response, max: usize, what: &str) -> Result<Vec<u8>, SearchError> {
    upstream_body::read_capped(response, max).await.map_err(|e| match e {
        BodyError::Broke(e) => SearchError(format!("{what}'s answer broke off ({})", e.without_url())),
        BodyError::TooLarge => SearchError(format!("{what} sent more than {} MiB", max >> 20)),
    })
}

impl SearchProvider for BraveSearch {
    fn search<'a>(&'a self, query: &'a str) -> BoxFuture<'a, Result<Vec<Hit>, SearchError>> {
        Box::pin(self.query(query))
    }

    fn page<'a>(&'a self, hit: &'a Hit) -> BoxFuture<'a, Result<String, SearchError>> {
        Box::pin(self.fetch(&hit.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brave_answers_are_read_and_bad_ones_refused_in_words() {
        let ok = br#"{"type":"search","web":{"results":[{"title":"A <strong>title</strong>","url":"https://a.example/","description":"About <strong>it</strong>."},{"title":"no url"}]}}"#;
        let hits = hits_of(ok).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].title, "A title");
        assert_eq!(hits[0].snippet, "About it.");
        assert!(hits_of(br#"{"type":"search"}"#).unwrap().is_empty());
        assert!(hits_of(b"<html>").unwrap_err().0.contains("not JSON"));
        assert!(hits_of(b"{}").unwrap_err().0.contains("no results"));
    }
}
