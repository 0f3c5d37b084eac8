-- Live price refreshes of the offer catalog. Every refresh of a
-- source is a row: a good one holds the offers it read, a failed one the error, and placement reads
-- the newest good row per source over the bundled catalog. Times are epoch milliseconds in bigint.
CREATE TABLE offer_snapshots (
  snapshot_id bigserial PRIMARY KEY,
  -- `aws:DescribeSpotPriceHistory`, `azure:retail-prices`, `gcp:cloud-billing-catalog`.
  source text NOT NULL,
  -- The cloud whose bundled rows a good snapshot replaces.
  cloud text NOT NULL CHECK (cloud IN ('aws', 'gcp', 'azure', 'local')),
  status text NOT NULL CHECK (status IN ('ok', 'failed')),
  fetched_at bigint NOT NULL,
  row_count integer NOT NULL CHECK (row_count >= 0),
  -- The Offer rows (domain/offer.ts), checked before they were stored; [] for a failed refresh.
  rows jsonb NOT NULL DEFAULT '[]',
  error text,
  CHECK ((status = 'failed') = (error IS NOT NULL)),
  CHECK (status = 'ok' OR row_count = 0)
);

CREATE INDEX offer_snapshots_source_idx ON offer_snapshots (source, fetched_at DESC, snapshot_id DESC);
