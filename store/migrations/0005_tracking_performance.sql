-- Tracking performance (bench/tracking, docs/benchmarks.md): metric history reads and metric writes.
--
-- Metric history is read ordered by (step, timestamp, is_nan, value) within one run and key, and
-- paged by that key. The primary key had the same columns with timestamp first, so every history
-- read sorted all of the key's points (on disk past work_mem: a 100,000-point history spilled 4 MB).
-- The same columns in read order keep the key identical (a replayed point still collides with
-- itself) and make the read an index range scan.
ALTER TABLE metrics DROP CONSTRAINT metrics_pkey;
ALTER TABLE metrics ADD CONSTRAINT metrics_pkey PRIMARY KEY (run_uuid, key, step, timestamp, is_nan, value);

-- metrics' foreign key to runs checked every inserted row with its own lookup and row lock: a third
-- of the time of a 1000-point log_batch. logMetrics (store/runs.ts), the only writer, now locks the
-- run row FOR KEY SHARE once per statement, as those checks did, and writes nothing for a run that
-- does not exist; this trigger keeps ON DELETE CASCADE.
ALTER TABLE metrics DROP CONSTRAINT metrics_run_uuid_fkey;

CREATE FUNCTION metrics_delete_with_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM metrics WHERE run_uuid = OLD.run_uuid;
  RETURN OLD;
END
$$;

CREATE TRIGGER runs_delete_metrics AFTER DELETE ON runs FOR EACH ROW EXECUTE FUNCTION metrics_delete_with_run();
