-- Searches with a text are answered by each instance's own search index (tantivy), which
-- follows the listings' changed_version stamps. The postings PostgreSQL kept for them
-- (V3-V5), their triggers and functions, the full-text document and its GIN index go; so does
-- the exact-name index. Browsing without a text (newest first, filters) stays here and keeps
-- its indexes.

DROP TRIGGER listing_terms_insert ON listings;
DROP TRIGGER listing_terms_update ON listings;
DROP TRIGGER listing_terms_delete ON listings;
DROP TRIGGER listing_terms_truncate ON listings;
DROP FUNCTION listing_terms_insert();
DROP FUNCTION listing_terms_update();
DROP FUNCTION listing_terms_delete();
DROP FUNCTION listing_terms_truncate();
DROP TABLE listing_terms;
DROP FUNCTION search_lexeme_pair(text);
DROP FUNCTION search_or_lexemes(text);
DROP FUNCTION search_lexeme(text);
DROP FUNCTION listing_postings(tsvector);
DROP FUNCTION lexeme_query(text);

DROP INDEX listings_exact_name;
-- Drops listings_search with it.
ALTER TABLE listings DROP COLUMN search;
DROP FUNCTION search_words(text[]);

-- The index reads what changed since a version a page at a time, in (changed_version, id)
-- order.
DROP INDEX listings_changed;
CREATE INDEX listings_changed ON listings (changed_version, id);
