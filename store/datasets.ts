import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { named, type Queryable, withTransaction } from './pool';
import type { KeyValue, MlflowDatasetInput } from './run-record';

const newUuid = (): string => randomUUID().replace(/-/g, '');

/**
 * MLflow's log_inputs for datasets (SqlAlchemyStore._log_inputs_impl):
 * - inputs naming the same (name, digest) twice keep the first;
 * - a dataset is stored once per experiment; one already stored is reused as is (never updated);
 * - a run links a dataset once; an existing link keeps its original input tags.
 * So a replayed request adds nothing.
 */
export async function logDatasetInputs(
  pool: pg.Pool,
  experimentId: string,
  runId: string,
  datasetInputs: readonly MlflowDatasetInput[],
): Promise<void> {
  await withTransaction(pool, (tx) => writeDatasetInputs(tx, experimentId, [{ runId, datasetInputs }]));
}

/** logDatasetInputs for any number of runs of one experiment, on the caller's client or transaction (two statements in all). */
export async function writeDatasetInputs(
  db: Queryable,
  experimentId: string,
  runs: ReadonlyArray<{ runId: string; datasetInputs: readonly MlflowDatasetInput[] }>,
): Promise<void> {
  const links: Array<{ runId: string; input: MlflowDatasetInput }> = [];
  const datasets = new Map<string, MlflowDatasetInput['dataset']>();
  for (const { runId, datasetInputs } of runs) {
    const linked = new Set<string>();
    for (const input of datasetInputs) {
      const key = JSON.stringify([input.dataset.name, input.dataset.digest]);
      if (linked.has(key)) continue;
      linked.add(key);
      links.push({ runId, input });
      if (!datasets.has(key)) datasets.set(key, input.dataset);
    }
  }
  if (links.length === 0) return;

  const inputUuids = links.map(() => newUuid());
  const tagInputUuids: string[] = [];
  const tagNames: string[] = [];
  const tagValues: string[] = [];
  links.forEach(({ input }, i) => {
    for (const tag of input.tags as readonly KeyValue[]) {
      tagInputUuids.push(inputUuids[i] as string);
      tagNames.push(tag.key);
      tagValues.push(tag.value);
    }
  });

  const stored = [...datasets.values()];
  await db.query(named('mlfleet_insert_datasets',
    `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile)
     SELECT t.uuid, $1::bigint, t.name, t.digest, t.source_type, t.source, t.schema, t.profile
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
       AS t(uuid, name, digest, source_type, source, schema, profile)
     ON CONFLICT (experiment_id, name, digest) DO NOTHING`,
    [
      experimentId,
      stored.map(() => newUuid()),
      stored.map((d) => d.name),
      stored.map((d) => d.digest),
      stored.map((d) => d.source_type),
      stored.map((d) => d.source),
      stored.map((d) => d.schema ?? null),
      stored.map((d) => d.profile ?? null),
    ],
  ));
  // A separate statement, so it sees the datasets the one above inserted (or a concurrent writer did).
  await db.query(named('mlfleet_link_dataset_inputs',
    `WITH linked AS (
       INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id)
       SELECT t.input_uuid, 'DATASET', d.dataset_uuid, 'RUN', t.run_id
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(run_id, name, digest, input_uuid)
       JOIN datasets d ON d.experiment_id = $1::bigint AND d.name = t.name AND d.digest = t.digest
       ON CONFLICT DO NOTHING
       RETURNING input_uuid
     )
     INSERT INTO input_tags (input_uuid, name, value)
     SELECT t.input_uuid, t.name, t.value
     FROM unnest($6::text[], $7::text[], $8::text[]) AS t(input_uuid, name, value)
     WHERE t.input_uuid IN (SELECT input_uuid FROM linked)
     ON CONFLICT (input_uuid, name) DO NOTHING`,
    [
      experimentId,
      links.map((l) => l.runId),
      links.map((l) => l.input.dataset.name),
      links.map((l) => l.input.dataset.digest),
      inputUuids,
      tagInputUuids,
      tagNames,
      tagValues,
    ],
  ));
}
