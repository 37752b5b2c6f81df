-- Baseline of the billing schema: the schema itself is created by `billing migrate`.
SELECT 1;
