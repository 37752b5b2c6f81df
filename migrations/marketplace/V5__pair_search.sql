-- Postings for searches of two words.
--
-- `ts_rank_cd` of `a & b` adds up, over covers (an occurrence of one word next to one of the
-- other, among the two words' occurrences), the harmonic mean of the two weights divided by
-- one plus the words standing between them. So:
--   * each cover adds at most the harmonic mean of its two weights; when one of the words has
--     no occurrence in the name (weight A = 1.0), at most HM(1.0, 0.4) = 0.5715;
--   * there are at most min(2 * min(n_a, n_b), n_a + n_b - 1) covers, n being how often each
--     word occurs (covers are adjacent pairs, and an occurrence has two neighbours).
-- A two-word search therefore ranks the listings with both words in the name (few: names
-- are short), takes the page's last rank from them, and ranks on the spot only the other
-- listings whose bound reaches it (`repo::search`). Each posting records, for that:
--   occurrences  how many positions the lexeme has in the document;
--   in_name      whether one of them is in the name (weight A).

-- Rebuilding the postings of a million listings takes minutes.
SET LOCAL statement_timeout = 0;

ALTER TABLE listing_terms DROP CONSTRAINT listing_terms_pkey;
TRUNCATE listing_terms;
ALTER TABLE listing_terms
    ADD COLUMN occurrences smallint NOT NULL,
    ADD COLUMN in_name boolean NOT NULL;

DROP FUNCTION listing_postings(tsvector);
-- A document's postings: each lexeme with the rank a search for it alone gives, how often it
-- occurs and whether it occurs in the name. Not STRICT, so the planner inlines it (the
-- triggers' deletes find each posting through the primary key).
CREATE FUNCTION listing_postings(search tsvector)
RETURNS TABLE (lexeme text, rank real, occurrences smallint, in_name boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT u.lexeme, ts_rank_cd(search, lexeme_query(u.lexeme)),
           coalesce(cardinality(u.positions), 0)::smallint, coalesce('A' = ANY(u.weights), false)
      FROM unnest(search) u
$$;

INSERT INTO listing_terms (lexeme, rank, id, occurrences, in_name)
SELECT p.lexeme, p.rank, l.id, p.occurrences, p.in_name
  FROM listings l, listing_postings(l.search) p WHERE l.visible;

ALTER TABLE listing_terms ADD PRIMARY KEY (lexeme, rank, id);
-- A lexeme's listings that have it in the name.
CREATE INDEX listing_terms_named ON listing_terms (lexeme, id) WHERE in_name;
-- A lexeme's listings where it occurs twice or more. Both indexes are in id order, so two
-- words' lists merge without a hash table.
CREATE INDEX listing_terms_repeated ON listing_terms (lexeme, id) INCLUDE (occurrences, in_name)
    WHERE occurrences >= 2;

CREATE OR REPLACE FUNCTION listing_terms_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO listing_terms (lexeme, rank, id, occurrences, in_name)
    SELECT p.lexeme, p.rank, n.id, p.occurrences, p.in_name
      FROM new_rows n, listing_postings(n.search) p WHERE n.visible;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION listing_terms_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- The rows whose postings change are picked first (a hash join of the two transition
    -- tables), so an update that leaves documents alone costs no posting lookups.
    WITH gone AS MATERIALIZED (
        SELECT o.id, o.search FROM old_rows o JOIN new_rows n USING (id)
         WHERE o.visible AND NOT (n.visible AND n.search = o.search))
    DELETE FROM listing_terms t
     USING gone g, listing_postings(g.search) p
     WHERE (t.lexeme, t.rank, t.id) = (p.lexeme, p.rank, g.id);
    WITH came AS MATERIALIZED (
        SELECT n.id, n.search FROM new_rows n JOIN old_rows o USING (id)
         WHERE n.visible AND NOT (o.visible AND o.search = n.search))
    INSERT INTO listing_terms (lexeme, rank, id, occurrences, in_name)
    SELECT p.lexeme, p.rank, c.id, p.occurrences, p.in_name
      FROM came c, listing_postings(c.search) p;
    RETURN NULL;
END $$;

-- The lexemes of a text of exactly two words, each one lexeme and different, possibly with
-- one-word exclusions (`invoice extractor`, `invoice extractor -pdf`), in the order of the
-- text; NULL for anything else. As for search_lexeme, the query is rebuilt word by word and
-- must equal websearch_to_tsquery's.
CREATE FUNCTION search_lexeme_pair(q text) RETURNS text[]
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    word     text;
    lexemes  text[];
    positive text[] := '{}';
    part     tsquery;
    built    tsquery;
BEGIN
    FOREACH word IN ARRAY regexp_split_to_array(btrim(q), '\s+') LOOP
        lexemes := tsvector_to_array(to_tsvector('english', ltrim(word, '-')));
        CONTINUE WHEN cardinality(lexemes) = 0;
        IF cardinality(lexemes) > 1 THEN
            RETURN NULL;
        END IF;
        IF left(word, 1) = '-' THEN
            part := !! lexeme_query(lexemes[1]);
        ELSIF cardinality(positive) < 2 AND NOT lexemes[1] = ANY(positive) THEN
            positive := positive || lexemes[1];
            part := lexeme_query(lexemes[1]);
        ELSE
            RETURN NULL;
        END IF;
        built := CASE WHEN built IS NULL THEN part ELSE built && part END;
    END LOOP;
    IF cardinality(positive) = 2 AND built = websearch_to_tsquery('english', q) THEN
        RETURN positive;
    END IF;
    RETURN NULL;
END $$;

-- Where two words match few listings, ranking them all through the GIN index is cheaper than
-- the two steps above, so a search estimates first, from the planner's statistics of
-- `listing_terms` (read by each instance every few minutes, `repo::search::LexemeStats`): its
-- 300 most common lexemes with their shares; any other lexeme is rarer than the rarest of
-- those.
ALTER TABLE listing_terms ALTER COLUMN lexeme SET STATISTICS 300;
ANALYZE listing_terms;
