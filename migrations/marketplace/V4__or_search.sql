-- Postings for `or` searches.
--
-- A listing that contains exactly one of the words of `a or b or c` gets, from ts_rank_cd,
-- the rank that word alone gives it: its document holds no other query lexeme, so the cover
-- density computation sees the same positions in the same order. Only listings containing
-- two or more of the words need ranking on the spot. So an `or` search reads each word's
-- postings (`listing_terms`, V3), skipping listings that contain another of the words, and
-- ranks just the listings that contain several (`repo::search`).

-- The distinct lexemes of a text that is words joined by `or` (`invoice or receipt or
-- ticket`), each word one lexeme; NULL for anything else. As for search_lexeme, the query is
-- rebuilt word by word and must equal websearch_to_tsquery's.
CREATE FUNCTION search_or_lexemes(q text) RETURNS text[]
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    words    text[] := regexp_split_to_array(btrim(q), '\s+');
    lexemes  text[];
    found    text[] := '{}';
    built    tsquery;
BEGIN
    IF cardinality(words) < 3 OR cardinality(words) % 2 = 0 THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. cardinality(words) LOOP
        IF i % 2 = 0 THEN
            IF lower(words[i]) <> 'or' THEN
                RETURN NULL;
            END IF;
            CONTINUE;
        END IF;
        lexemes := tsvector_to_array(to_tsvector('english', words[i]));
        IF cardinality(lexemes) <> 1 OR lexemes[1] = ANY(found) THEN
            RETURN NULL;
        END IF;
        found := found || lexemes[1];
        built := CASE WHEN built IS NULL THEN lexeme_query(lexemes[1])
                      ELSE built || lexeme_query(lexemes[1]) END;
    END LOOP;
    IF built = websearch_to_tsquery('english', q) THEN
        RETURN found;
    END IF;
    RETURN NULL;
END $$;
