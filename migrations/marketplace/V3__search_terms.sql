-- Rank-ordered postings for one-word searches.
--
-- Ranking a text search means computing ts_rank_cd for every visible listing that matches,
-- so a common word (tens of thousands of matches at a million listings) costs a heap fetch
-- per match before the first row can be returned. A one-word query ranks each listing by that
-- word alone, so the rank can be computed when the listing is written: `listing_terms` holds,
-- for every lexeme of every visible listing, the rank a search for that one lexeme gives it,
-- and its primary key returns a lexeme's listings in result order. The search reads a page
-- from it (`repo::search`), whatever the word's frequency. Searches of several words, of
-- phrases or `or` rank their matches as before.
--
-- The rank is ts_rank_cd itself over the listing's `search` document, so both ways of
-- searching, the cursors they hand out and the response-cache checks (which recompute
-- ts_rank_cd) agree on the order to the last bit.

-- The backfill below writes a row per lexeme of every visible listing (about 25 per listing);
-- at a million listings that takes minutes, longer than the services' statement timeout.
SET LOCAL statement_timeout = 0;

-- The tsquery of exactly one lexeme, taken as is (no parsing, stemming or stop words).
CREATE FUNCTION lexeme_query(lexeme text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery $$;

-- The lexeme a search's rank depends on alone, for a text of one word with any number of
-- one-word exclusions (`invoices`, `invoice -pdf -ocr`): its query is that lexeme ANDed with
-- negated lexemes, and a listing it matches contains none of the excluded ones, so its rank
-- is the one word's. NULL for anything else (two words, phrases, `or`, hyphenated words).
-- The query is rebuilt word by word and must equal websearch_to_tsquery's, so any text the
-- search parses differently is left to the general ranking.
CREATE FUNCTION search_lexeme(q text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    word     text;
    lexemes  text[];
    positive text;
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
        ELSIF positive IS NULL THEN
            positive := lexemes[1];
            part := lexeme_query(positive);
        ELSE
            RETURN NULL;
        END IF;
        built := CASE WHEN built IS NULL THEN part ELSE built && part END;
    END LOOP;
    IF positive IS NOT NULL AND built = websearch_to_tsquery('english', q) THEN
        RETURN positive;
    END IF;
    RETURN NULL;
END $$;

-- A document's postings: each of its lexemes with the rank a search for it alone gives.
-- Not STRICT, so the planner inlines it: the triggers' deletes then find each posting through
-- the primary key.
CREATE FUNCTION listing_postings(search tsvector) RETURNS TABLE (lexeme text, rank real)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT u, ts_rank_cd(search, lexeme_query(u)) FROM unnest(tsvector_to_array(search)) u $$;

CREATE TABLE listing_terms (
    lexeme  text COLLATE "C" NOT NULL,
    -- ts_rank_cd(listings.search, lexeme_query(lexeme)).
    rank    real NOT NULL,
    id      uuid NOT NULL
);

INSERT INTO listing_terms (lexeme, rank, id)
SELECT p.lexeme, p.rank, l.id FROM listings l, listing_postings(l.search) p WHERE l.visible;

-- A lexeme's listings, best first: a backward scan, (rank, id) descending, as the search
-- orders them.
ALTER TABLE listing_terms ADD PRIMARY KEY (lexeme, rank, id);

-- Kept in step with `listings` by statement-level triggers: one set-based statement per
-- write, however many rows it touched (a seeding batch, a publisher rename). Only visible
-- listings have postings; a row whose document and visibility did not change keeps its own.
-- Deletes find the postings by their full key, the rank recomputed from the old document.
-- The functions keep the schema they were created in, whoever writes the listings.

CREATE FUNCTION listing_terms_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO listing_terms (lexeme, rank, id)
    SELECT p.lexeme, p.rank, n.id FROM new_rows n, listing_postings(n.search) p WHERE n.visible;
    RETURN NULL;
END $$;

CREATE FUNCTION listing_terms_update() RETURNS trigger
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
    INSERT INTO listing_terms (lexeme, rank, id)
    SELECT p.lexeme, p.rank, c.id FROM came c, listing_postings(c.search) p;
    RETURN NULL;
END $$;

CREATE FUNCTION listing_terms_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM listing_terms t
     USING old_rows o, listing_postings(o.search) p
     WHERE o.visible AND (t.lexeme, t.rank, t.id) = (p.lexeme, p.rank, o.id);
    RETURN NULL;
END $$;

CREATE FUNCTION listing_terms_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    TRUNCATE listing_terms;
    RETURN NULL;
END $$;

CREATE TRIGGER listing_terms_insert AFTER INSERT ON listings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listing_terms_insert();
CREATE TRIGGER listing_terms_update AFTER UPDATE ON listings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listing_terms_update();
CREATE TRIGGER listing_terms_delete AFTER DELETE ON listings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listing_terms_delete();
CREATE TRIGGER listing_terms_truncate AFTER TRUNCATE ON listings
    FOR EACH STATEMENT EXECUTE FUNCTION listing_terms_truncate();
