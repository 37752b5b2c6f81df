-- Baseline of the marketplace schema: the schema itself is created by `marketplace migrate`.
SELECT 1;
