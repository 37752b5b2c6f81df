-- Baseline of the analytics schema: the schema itself is created by `analytics migrate`.
SELECT 1;
