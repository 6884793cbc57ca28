//! The **search stand-in**: a small local corpus served in place of a web search provider, for
//! offline use and tests. Every title it returns says so, and its addresses are under the
//! reserved `.invalid` domain, so no one can mistake it for the live web.

use futures::future::BoxFuture;

use super::{passage, Hit, SearchError, SearchProvider};

/// The stand-in's pages: (address path, title, text).
const PAGES: &[(&str, &str, &str)] = &[
    ("oblivious-http", "Oblivious HTTP (RFC 9458)",
     "Oblivious HTTP is a protocol published by the IETF as RFC 9458 in January 2024. A client encrypts an HTTP request to a gateway's public key with HPKE and sends it through a relay. The relay learns who the client is but not what was asked; the gateway learns what was asked but not who asked it. Responses are encrypted back to the client under a key derived from the request. Chunked Oblivious HTTP extends the scheme so that long responses can be streamed piece by piece."),
    ("nitro-enclaves", "AWS Nitro Enclaves",
     "AWS Nitro Enclaves are isolated compute environments carved out of an EC2 instance's CPU and memory. An enclave has no persistent storage, no interactive access and no external networking; it talks to its parent instance over a vsock. The Nitro Secure Module signs attestation documents containing platform configuration registers (PCRs): PCR0 measures the enclave image, PCR1 the kernel and boot ramdisk, PCR2 the application. A client checks the document's certificate chain up to the AWS Nitro root before trusting the enclave's keys."),
    ("everest-1953", "First ascent of Mount Everest",
     "Mount Everest was first climbed on 29 May 1953 by Edmund Hillary of New Zealand and Tenzing Norgay, a Sherpa of Nepal, members of the ninth British expedition to the mountain, led by John Hunt. They reached the 8,849-metre summit by the South Col route at about 11:30 in the morning. News of the ascent reached London on the morning of Queen Elizabeth II's coronation."),
    ("sourdough", "How sourdough bread rises",
     "Sourdough bread is leavened by a starter: a culture of wild yeasts and lactic acid bacteria kept alive in flour and water. The yeasts produce carbon dioxide, which raises the dough; the bacteria produce lactic and acetic acids, which give the bread its sour taste and help it keep. A starter is fed regularly with fresh flour and water. Long, cool fermentation develops more flavour."),
    ("eiffel-tower", "The Eiffel Tower",
     "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It was designed by the engineering company of Gustave Eiffel and built for the 1889 World's Fair, marking the centenary of the French Revolution. It is 330 metres tall including its antennas and was the tallest man-made structure in the world until 1930. It is repainted about every seven years."),
    ("photosynthesis", "Photosynthesis",
     "Photosynthesis is the process by which plants, algae and some bacteria turn light energy into chemical energy. In the light-dependent reactions, chlorophyll absorbs light and water is split, releasing oxygen. In the Calvin cycle, carbon dioxide is fixed into sugars using the energy stored in ATP and NADPH. Nearly all the oxygen in Earth's atmosphere comes from photosynthesis."),
    ("rust-language", "The Rust programming language",
     "Rust is a systems programming language focused on safety, speed and concurrency. Its ownership model, checked by the borrow checker at compile time, prevents use-after-free errors and data races without a garbage collector. Rust 1.0 was released in May 2015. Cargo is its build system and package manager, and crates.io its package registry."),
    ("solar-eclipse", "Total solar eclipses",
     "A total solar eclipse happens when the Moon passes between the Sun and Earth and completely covers the Sun's disc, revealing the corona. Totality lasts at most about seven and a half minutes at any one place. The path of totality is usually less than 270 kilometres wide. A total solar eclipse crossed Spain on 12 August 2026."),
    ("lighthouse-alexandria", "The Lighthouse of Alexandria",
     "The Lighthouse of Alexandria, or Pharos, was built by the Ptolemaic Kingdom on the island of Pharos in the third century BC. Estimated at over 100 metres tall, it was one of the Seven Wonders of the Ancient World and among the tallest structures of its time. Earthquakes between 956 and 1323 damaged it, and its remains were used to build the Citadel of Qaitbay in 1480."),
    ("tea", "Green and black tea",
     "Green and black tea both come from the leaves of Camellia sinensis. Green tea is heated soon after picking, which stops oxidation and keeps the leaves green. Black tea is withered, rolled and fully oxidised, which darkens the leaves and gives a stronger flavour. Both contain caffeine; a cup of black tea usually has somewhat more than a cup of green."),
];

const BASE: &str = "https://search-standin.sotto.invalid/";
const LABEL: &str = " (search stand-in)";

pub struct StandinCorpus;

fn lookup(url: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    let path = url.strip_prefix(BASE)?;
    PAGES.iter().find(|(p, _, _)| *p == path)
}

impl SearchProvider for StandinCorpus {
    fn search<'a>(&'a self, query: &'a str) -> BoxFuture<'a, Result<Vec<Hit>, SearchError>> {
        Box::pin(async move {
            let terms = passage::terms(query);
            // Matches in the title count twice.
            let mut ranked: Vec<(usize, &(&str, &str, &str))> = PAGES
                .iter()
                .map(|page| (2 * passage::score(page.1, &terms) + passage::score(page.2, &terms), page))
                .filter(|(s, _)| *s > 0)
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0));
            Ok(ranked
                .into_iter()
                .take(3)
                .map(|(_, (path, title, text))| Hit {
                    title: format!("{title}{LABEL}"),
                    url: format!("{BASE}{path}"),
                    snippet: text.chars().take(160).collect(),
                })
                .collect())
        })
    }

    fn page<'a>(&'a self, hit: &'a Hit) -> BoxFuture<'a, Result<String, SearchError>> {
        Box::pin(async move {
            lookup(&hit.url).map(|p| p.2.to_string()).ok_or_else(|| SearchError(format!("the stand-in has no page at {}", hit.url)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_relevant_page_comes_first_and_says_it_is_a_stand_in() {
        let hits = StandinCorpus.search("Who first climbed Mount Everest?").await.unwrap();
        assert_eq!(hits[0].url, format!("{BASE}everest-1953"));
        assert!(hits[0].title.ends_with(LABEL));
        assert!(StandinCorpus.page(&hits[0]).await.unwrap().contains("Tenzing Norgay"));
        assert!(StandinCorpus.search("zzqx unknown words").await.unwrap().is_empty());
    }
}
