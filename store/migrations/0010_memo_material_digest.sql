-- The cache key a stage would have with no inputs: every memo entry of a stage's code, params, env
-- and version shares it, whatever its inputs were. A launch fetches the candidates of all its
-- stages in one query and picks each stage's entry by its full key once its upstream digests are
-- known, instead of one query per stage in DAG order. NULL for entries written before it (found
-- by their full key).
ALTER TABLE memo_entries ADD COLUMN material_digest text;
CREATE INDEX memo_entries_material ON memo_entries (experiment_id, material_digest) WHERE material_digest IS NOT NULL;
