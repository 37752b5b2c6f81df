//! The index's schema, its analyzers and the document of a listing.
//!
//! Text is analyzed like PostgreSQL's `english` configuration did: words of letters and
//! digits, lowercased, English stop words dropped, Snowball-stemmed ([`STEMMED`]). The same
//! words unstemmed ([`PLAIN`]) go to one field, `words`, which prefix and typo matching read.

use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenizerManager,
};
use tantivy::{TantivyDocument, Term};
use uuid::Uuid;

/// The stemming analyzer of the ranked fields.
pub const STEMMED: &str = "en_stem";
/// The analyzer of `words`: the same words, not stemmed.
pub const PLAIN: &str = "en_plain";
/// Longer tokens are dropped (no word is that long; it bounds the dictionary).
const MAX_TOKEN: usize = 40;

/// The fields of a listing document.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The listing id (simple form), for deletes and lookups.
    pub id: Field,
    /// The name, stemmed, with positions (phrases).
    pub name: Field,
    /// The whole name, lowercased with whitespace collapsed: equal to a query that is the name.
    pub name_exact: Field,
    /// Tags, capabilities and the publisher, stemmed.
    pub labels: Field,
    /// The description, stemmed.
    pub description: Field,
    /// Every word above, unstemmed: prefix and typo matching.
    pub words: Field,
    /// Filter: the agent type.
    pub agent_type: Field,
    /// Filter: each capability.
    pub capability: Field,
    /// Filter: each tag.
    pub tag: Field,
    /// Filter: the publisher, lowercased.
    pub publisher_key: Field,
    /// The listing as search results show it (JSON).
    pub body: Field,
    /// Fast: the id's high 64 bits (with `id_low`, the order's tie-break).
    pub id_high: Field,
    /// Fast: the id's low 64 bits.
    pub id_low: Field,
}

/// Fast fields holding the id's two halves.
pub const ID_HIGH: &str = "id_high";
/// See [`ID_HIGH`].
pub const ID_LOW: &str = "id_low";

fn text(analyzer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer)
            .set_index_option(record),
    )
}

/// The schema and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let positions = IndexRecordOption::WithFreqsAndPositions;
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        name: b.add_text_field("name", text(STEMMED, positions)),
        name_exact: b.add_text_field("name_exact", STRING),
        labels: b.add_text_field("labels", text(STEMMED, positions)),
        description: b.add_text_field("description", text(STEMMED, positions)),
        words: b.add_text_field("words", text(PLAIN, IndexRecordOption::WithFreqs)),
        agent_type: b.add_text_field("agent_type", STRING),
        capability: b.add_text_field("capability", STRING),
        tag: b.add_text_field("tag", STRING),
        publisher_key: b.add_text_field("publisher_key", STRING),
        body: b.add_bytes_field("body", STORED),
        id_high: b.add_u64_field(ID_HIGH, FAST),
        id_low: b.add_u64_field(ID_LOW, FAST),
    };
    (b.build(), fields)
}

fn analyzer(stem: bool) -> TextAnalyzer {
    let b = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN))
        .filter(LowerCaser);
    match (stem, StopWordFilter::new(Language::English)) {
        (true, Some(stop)) => b
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        (true, None) => b.filter(Stemmer::new(Language::English)).build(),
        (false, Some(stop)) => b.filter(stop).build(),
        (false, None) => b.build(),
    }
}

/// Registers [`STEMMED`] and [`PLAIN`].
pub fn register(manager: &TokenizerManager) {
    manager.register(STEMMED, analyzer(true));
    manager.register(PLAIN, analyzer(false));
}

/// The tokens `analyzer` makes of `text`.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The stemming analyzer, for queries.
pub fn stemmer() -> TextAnalyzer {
    analyzer(true)
}

/// The plain analyzer, for queries.
pub fn plain() -> TextAnalyzer {
    analyzer(false)
}

/// A name or a query in the form `name_exact` compares: lowercased, whitespace collapsed.
pub fn exact_form(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The term naming listing `id`.
pub fn id_term(f: &Fields, id: Uuid) -> Term {
    Term::from_field_text(f.id, &id.simple().to_string())
}

/// What a listing document is made of.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Agent type.
    pub agent_type: &'a str,
    /// Capabilities.
    pub capabilities: &'a [String],
    /// Tags.
    pub tags: &'a [String],
    /// Publisher.
    pub publisher: &'a str,
    /// The JSON of the listing in results.
    pub body: &'a [u8],
}

/// The document of a listing.
pub fn document(f: &Fields, s: &Source<'_>) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_text(f.id, s.id.simple().to_string());
    d.add_text(f.name, s.name);
    d.add_text(f.name_exact, exact_form(s.name));
    let labels = s
        .tags
        .iter()
        .chain(s.capabilities)
        .map(String::as_str)
        .chain([s.publisher])
        .collect::<Vec<_>>()
        .join(" ");
    d.add_text(f.labels, &labels);
    d.add_text(f.description, s.description);
    for t in [s.name, &labels, s.description] {
        d.add_text(f.words, t);
    }
    d.add_text(f.agent_type, s.agent_type);
    for c in s.capabilities {
        d.add_text(f.capability, c);
    }
    for t in s.tags {
        d.add_text(f.tag, t.to_lowercase());
    }
    d.add_text(f.publisher_key, s.publisher.to_lowercase());
    d.add_bytes(f.body, s.body);
    let id = s.id.as_u128();
    d.add_u64(f.id_high, (id >> 64) as u64);
    d.add_u64(f.id_low, id as u64);
    d
}
