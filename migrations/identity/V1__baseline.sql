-- Baseline of the identity schema: the schema itself is created by `identity migrate`.
SELECT 1;
