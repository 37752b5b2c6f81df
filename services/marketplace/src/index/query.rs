//! A search's text and filters as an index query.
//!
//! The text keeps PostgreSQL's `websearch` syntax: words (all required), `"quoted phrases"`,
//! `-word` or `-"a phrase"` (excluded), and `or` between two of them (either). Each word
//! matches its stem in the name, the tags, capabilities and publisher, or the description,
//! weighted in that order ([`NAME`], [`LABELS`], [`DESCRIPTION`]: BM25 with field boosts). A word of [`FUZZY_FROM`] letters or more also matches the unstemmed words
//! within one edit of it (two from [`FUZZY_TWO_FROM`] letters; a transposition is one edit),
//! and the last word also matches the words it begins (search as you type, from
//! [`PREFIX_FROM`] letters): such matches are boosted by [`EXPANSION`], below any exact
//! match, and each word expands to at most [`MAX_EXPANSIONS`] words, so a query's cost stays
//! bounded. The listings whose whole name equals the text come first ([`EXACT`]), whatever
//! the words say ([`Plan`]). Filters select without scoring. A text without phrases is scored
//! as the sum of its terms' scores ([`Fast`]), which lets the search skip what cannot
//! make the page (`collect`).

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};
use uuid::Uuid;

use super::fields::{Fields, exact_form, id_term, tokens};
use crate::search::filter::SearchFilter;

/// Score of a listing whose name is the query: above any sum of word scores.
pub const EXACT: f32 = 10_000.0;
/// Boost of the name.
pub const NAME: f32 = 8.0;
/// Boost of tags, capabilities and the publisher.
pub const LABELS: f32 = 3.0;
/// Boost of the description.
pub const DESCRIPTION: f32 = 1.0;
/// Boost of a word matched only by prefix or typo (BM25 of the unstemmed word: at most
/// about 0.2, below any exact match of a word).
pub const EXPANSION: f32 = 0.02;
/// Letters from which a word tolerates one typo.
pub const FUZZY_FROM: usize = 5;
/// Letters from which a word tolerates two.
pub const FUZZY_TWO_FROM: usize = 9;
/// Letters from which the last word matches the words it begins.
pub const PREFIX_FROM: usize = 3;
/// Most words one word expands to.
pub const MAX_EXPANSIONS: usize = 16;

/// One piece of the text.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Word(String),
    Phrase(String),
}

/// The text in `websearch` form: groups that must all match (each: pieces of which one must),
/// and pieces that must not.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    required: Vec<Vec<Piece>>,
    excluded: Vec<Piece>,
}

fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut or_pending, mut last_required) = (0, false, false);
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if negated {
            i += 1;
        }
        let piece = if chars[i] == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|c| *c == '"')
                .map_or(chars.len(), |p| i + 1 + p);
            let s: String = chars[i + 1..end].iter().collect();
            i = end + 1;
            Piece::Phrase(s)
        } else {
            let end = chars[i..]
                .iter()
                .position(|c| c.is_whitespace() || *c == '"')
                .map_or(chars.len(), |p| i + p);
            let s: String = chars[i..end].iter().collect();
            i = end;
            if !negated && s == "or" {
                or_pending = last_required;
                continue;
            }
            Piece::Word(s)
        };
        if negated {
            out.excluded.push(piece);
            or_pending = false;
            last_required = false;
        } else {
            match out.required.last_mut() {
                Some(group) if or_pending => group.push(piece),
                _ => out.required.push(vec![piece]),
            }
            or_pending = false;
            last_required = true;
        }
    }
    out
}

/// Builds queries over one searcher's index.
pub struct Builder<'a> {
    f: &'a Fields,
    searcher: &'a Searcher,
    stem: TextAnalyzer,
    plain: TextAnalyzer,
}

impl std::fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").finish_non_exhaustive()
    }
}

fn boxed(q: impl Query) -> Box<dyn Query> {
    Box::new(q)
}

fn any(clauses: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match clauses.len() {
        0 => None,
        1 => clauses.into_iter().next(),
        _ => Some(boxed(BooleanQuery::new(
            clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))),
    }
}

fn filter(field: Field, value: &str) -> (Occur, Box<dyn Query>) {
    let term = TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    );
    (Occur::Must, boxed(ConstScoreQuery::new(boxed(term), 0.0)))
}

impl<'a> Builder<'a> {
    /// A builder for `searcher`, analyzing query words with `stem` and `plain`.
    pub fn new(
        f: &'a Fields,
        searcher: &'a Searcher,
        stem: TextAnalyzer,
        plain: TextAnalyzer,
    ) -> Self {
        Self {
            f,
            searcher,
            stem,
            plain,
        }
    }

    /// The ranked fields with their boosts.
    fn fields(&self) -> [(Field, f32); 3] {
        [
            (self.f.name, NAME),
            (self.f.labels, LABELS),
            (self.f.description, DESCRIPTION),
        ]
    }

    /// `stems` in sequence (one stem: the term) in any ranked field, boosted by field: the
    /// query, and for one stem, its scored terms.
    fn in_fields(&self, stems: &[String]) -> Option<(Box<dyn Query>, Option<Terms>)> {
        if stems.is_empty() {
            return None;
        }
        let clauses = self
            .fields()
            .into_iter()
            .map(|(field, boost)| {
                let q = if stems.len() == 1 {
                    boxed(TermQuery::new(
                        Term::from_field_text(field, &stems[0]),
                        IndexRecordOption::WithFreqs,
                    ))
                } else {
                    let terms = stems
                        .iter()
                        .map(|s| Term::from_field_text(field, s))
                        .collect();
                    boxed(PhraseQuery::new(terms))
                };
                boxed(BoostQuery::new(q, boost))
            })
            .collect::<Vec<_>>();
        let terms = (stems.len() == 1).then(|| clauses.iter().map(|c| c.box_clone()).collect());
        Some((any(clauses)?, terms))
    }

    /// Unstemmed words within the typo distance of `word`, or beginning with it (`prefix`),
    /// that are not the word's own stem; at most [`MAX_EXPANSIONS`].
    fn expansions(&mut self, word: &str, stem: &str, prefix: bool) -> Vec<String> {
        let letters = word.chars().count();
        let distance = match letters {
            n if n >= FUZZY_TWO_FROM => 2,
            n if n >= FUZZY_FROM => 1,
            _ => 0,
        };
        let mut automata = Vec::new();
        let term = Term::from_field_text(self.f.words, word);
        if distance > 0 {
            automata.push(FuzzyTermQuery::new(term.clone(), distance, true));
        }
        if prefix && letters >= PREFIX_FROM {
            automata.push(FuzzyTermQuery::new_prefix(term, 0, true));
        }
        let mut out: Vec<String> = Vec::new();
        for q in automata {
            let Ok(dfa) = q.automaton() else { continue };
            for segment in self.searcher.segment_readers() {
                let Ok(inverted) = segment.inverted_index(self.f.words) else {
                    continue;
                };
                let Ok(mut stream) = inverted.terms().search(&dfa).into_stream() else {
                    continue;
                };
                while out.len() < MAX_EXPANSIONS && stream.advance() {
                    let Ok(w) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    if !out.iter().any(|o| o == w) && tokens(&mut self.stem, w) != [stem] {
                        out.push(w.to_owned());
                    }
                }
            }
        }
        out
    }

    /// A piece: its stems in the ranked fields, or for a word, also its expansions; and its
    /// scored terms when it is one token.
    fn piece(&mut self, piece: &Piece, last: bool) -> Option<(Box<dyn Query>, Option<Terms>)> {
        let (text, word) = match piece {
            Piece::Word(w) => (w.as_str(), true),
            Piece::Phrase(p) => (p.as_str(), false),
        };
        let stems = tokens(&mut self.stem, text);
        let (exact, terms) = self.in_fields(&stems)?;
        let plain = tokens(&mut self.plain, text);
        if !word || stems.len() != 1 || plain.len() != 1 {
            return Some((exact, terms.filter(|_| plain.len() == 1)));
        }
        let expanded = self.expansions(&plain[0], &stems[0], last);
        let near: Vec<Box<dyn Query>> = expanded
            .iter()
            .map(|w| {
                let t = TermQuery::new(
                    Term::from_field_text(self.f.words, w),
                    IndexRecordOption::WithFreqs,
                );
                boxed(BoostQuery::new(boxed(t), EXPANSION))
            })
            .collect();
        let mut terms = terms;
        if let Some(t) = &mut terms {
            t.extend(near.iter().map(|q| q.box_clone()));
        }
        let mut all = vec![exact];
        all.extend(near);
        Some((any(all)?, terms))
    }

    /// The filters' clauses, and the restriction to `ids` if any.
    fn filters(&self, filter: &SearchFilter, ids: Option<&[Uuid]>) -> Vec<(Occur, Box<dyn Query>)> {
        let mut clauses = Vec::new();
        if let Some(t) = filter.agent_type {
            clauses.push(self::filter(self.f.agent_type, t.as_str()));
        }
        if let Some(c) = &filter.capability {
            clauses.push(self::filter(self.f.capability, c.as_str()));
        }
        if let Some(t) = &filter.tag {
            clauses.push(self::filter(self.f.tag, t.as_str()));
        }
        if let Some(p) = &filter.publisher {
            clauses.push(self::filter(self.f.publisher_key, p));
        }
        if let Some(ids) = ids {
            let set = TermSetQuery::new(ids.iter().map(|id| id_term(self.f, *id)));
            clauses.push((Occur::Must, boxed(ConstScoreQuery::new(boxed(set), 0.0))));
        }
        clauses
    }

    /// With two groups or more, each of one word of one stem: the listings with every stem in
    /// the name.
    fn seed(&mut self, parsed: &Parsed) -> Option<Box<dyn Query>> {
        if parsed.required.len() < 2 {
            return None;
        }
        let mut clauses = Vec::new();
        for group in &parsed.required {
            let [Piece::Word(w)] = group.as_slice() else {
                return None;
            };
            let [stem] = tokens(&mut self.stem, w).try_into().ok()?;
            let t = Term::from_field_text(self.f.name, &stem);
            clauses.push((
                Occur::Must,
                boxed(TermQuery::new(t, IndexRecordOption::Basic)),
            ));
        }
        Some(boxed(BooleanQuery::new(clauses)))
    }

    /// The plan of `filter`'s search (which has a text), restricted to `ids` if given.
    pub fn plan(&mut self, filter: &SearchFilter, ids: Option<&[Uuid]>) -> Plan {
        let text = filter.text.as_deref().unwrap_or_default();
        let name = Term::from_field_text(self.f.name_exact, &exact_form(text));
        let name_query = || boxed(TermQuery::new(name.clone(), IndexRecordOption::Basic));
        let mut exact = vec![(Occur::Must, name_query())];
        exact.extend(self.filters(filter, ids));
        let exact = boxed(ConstScoreQuery::new(boxed(BooleanQuery::new(exact)), EXACT));

        let parsed = parse(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut fast = Some(Fast::default());
        let groups = parsed.required.len();
        for (g, group) in parsed.required.iter().enumerate() {
            let n = group.len();
            let mut pieces = Vec::new();
            let mut any_of: Terms = Vec::new();
            for (i, p) in group.iter().enumerate() {
                if let Some((q, t)) = self.piece(p, g + 1 == groups && i + 1 == n) {
                    pieces.push(q);
                    match (&mut fast, t) {
                        (Some(f), Some(t)) => {
                            any_of.extend(t.iter().map(|q| q.box_clone()));
                            f.terms.extend(t);
                        }
                        _ => fast = None,
                    }
                }
            }
            if let Some(q) = any(pieces) {
                clauses.push((Occur::Must, q));
                if let Some(f) = &mut fast {
                    f.groups.push(any_of);
                }
            }
        }
        if clauses.is_empty() {
            return Plan {
                exact,
                words: None,
                fast: None,
            };
        }
        for piece in &parsed.excluded {
            let text = match piece {
                Piece::Word(w) | Piece::Phrase(w) => w,
            };
            let stems = tokens(&mut self.stem, text);
            if let Some((q, t)) = self.in_fields(&stems) {
                clauses.push((Occur::MustNot, q));
                match (&mut fast, t) {
                    (Some(f), Some(t)) => f.forbidden.extend(t),
                    _ => fast = None,
                }
            }
        }
        if let Some(f) = &mut fast {
            f.seed = self.seed(&parsed);
        }
        // Exact names come first, apart.
        clauses.push((Occur::MustNot, name_query()));
        let filters = self.filters(filter, ids);
        if let Some(f) = &mut fast {
            f.forbidden.push(name_query());
            f.filters = filters.iter().map(|(_, q)| q.box_clone()).collect();
        }
        clauses.extend(filters);
        Plan {
            exact,
            words: Some(boxed(BooleanQuery::new(clauses))),
            fast,
        }
    }
}

/// The terms of a text without phrases, for scoring and matching term by term.
#[derive(Debug, Default)]
pub struct Fast {
    /// Scored terms in a fixed order: a match's score is the sum of those it has.
    pub terms: Terms,
    /// A match has at least one term of each group (a group per required word or `or`).
    pub groups: Vec<Terms>,
    /// A match has none of these (exclusions, the exact name).
    pub forbidden: Terms,
    /// A match passes all of these (filters).
    pub filters: Terms,
    /// With two words or more, each one word: the listings with all of them in the name.
    pub seed: Option<Box<dyn Query>>,
}

/// Scored terms, in a fixed order.
pub type Terms = Vec<Box<dyn Query>>;

/// What a search with a text runs.
#[derive(Debug)]
pub struct Plan {
    /// The listings whose whole name is the text, that the filters select: all scored
    /// [`EXACT`].
    pub exact: Box<dyn Query>,
    /// The listings the words match (those of `exact` aside) that the filters select; `None`
    /// when the text has no word to search (stop words, exclusions only).
    pub words: Option<Box<dyn Query>>,
    /// When the text has no phrase: its terms, whose sum is a match's score (else `words`
    /// scores).
    pub fast: Option<Fast>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Piece {
        Piece::Word(s.into())
    }

    #[test]
    fn websearch_syntax() {
        let p = parse("invoice \"pdf tools\" -ocr -\"old school\" a or b or c d");
        assert_eq!(
            p.required,
            vec![
                vec![w("invoice")],
                vec![Piece::Phrase("pdf tools".into())],
                vec![w("a"), w("b"), w("c")],
                vec![w("d")],
            ]
        );
        assert_eq!(
            p.excluded,
            vec![w("ocr"), Piece::Phrase("old school".into())]
        );
        // A dangling `or`, a lone dash, an unclosed quote.
        let p = parse("or x or - \"y z");
        assert_eq!(
            p.required,
            vec![vec![w("x"), w("-")], vec![Piece::Phrase("y z".into())]]
        );
    }
}
