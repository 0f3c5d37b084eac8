import pg from 'pg';
import { z } from 'zod';
import { named, type Queryable } from './pool';
import { type MlflowRun, type MlflowRunInfo, PARENT_RUN_TAG, RUN_COLUMNS, RunRow, toRunInfo } from './run-record';

// Runs read back in MLflow's JSON shape, one at a time or many at once in a fixed number of queries.

const DatasetInputRow = z.object({
  run_uuid: z.string(),
  name: z.string(),
  digest: z.string(),
  source_type: z.string(),
  source: z.string(),
  schema: z.string().nullable(),
  profile: z.string().nullable(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })),
});

/**
 * One collection (params, tags or latest metrics) of a page of runs as PostgreSQL aggregates it:
 * one JSON document of column arrays, aligned and sorted by (key, run). The driver decodes it with
 * one native JSON.parse, where one result row per entry cost ~2 µs each in the driver: a page of
 * 1,000 runs holds ~25,000 entries, and decoding their rows was most of a search's time.
 * Non-finite doubles arrive as the JSON strings PostgreSQL writes for them ('Infinity', 'NaN').
 */
interface EntryColumns {
  r: string[] | null;
  k: string[] | null;
  v: string[] | null;
}
interface MetricColumns {
  r: string[] | null;
  k: string[] | null;
  v: JsonDouble[] | null;
  t: number[] | null;
  s: number[] | null;
  n: boolean[] | null;
}
type JsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';
const fromJsonDouble = (value: JsonDouble): number => (typeof value === 'number' ? value : Number(value));

// Whitelisted table names only; the run ids travel as a parameter.
const entryColumnsSql = (table: 'params' | 'tags'): string =>
  `SELECT json_build_object('r', array_agg(run_uuid ORDER BY key, run_uuid), 'k', array_agg(key ORDER BY key, run_uuid),
                            'v', array_agg(value ORDER BY key, run_uuid)) AS c
   FROM (SELECT run_uuid, key, value FROM ${table} WHERE run_uuid = ANY($1::text[]) ORDER BY key, run_uuid) e`;
const METRIC_COLUMNS_SQL = `SELECT json_build_object('r', array_agg(run_uuid ORDER BY key, run_uuid), 'k', array_agg(key ORDER BY key, run_uuid),
                          'v', array_agg(value ORDER BY key, run_uuid), 't', array_agg(timestamp ORDER BY key, run_uuid),
                          's', array_agg(step ORDER BY key, run_uuid), 'n', array_agg(is_nan ORDER BY key, run_uuid)) AS c
   FROM (SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid = ANY($1::text[]) ORDER BY key, run_uuid) e`;
const PARAM_COLUMNS_SQL = entryColumnsSql('params');
const TAG_COLUMNS_SQL = entryColumnsSql('tags');

// The logged models a run produced and read, as columns of its row (a key lookup each, no extra round
// trip): runs/get shows both, as MLflow does; a search page shows only the outputs.
const MODEL_OUTPUTS_COLUMN = `(SELECT json_agg(json_build_object('model_id', o.model_id, 'step', o.step) ORDER BY o.model_id)
   FROM run_model_outputs o WHERE o.run_id = r.run_uuid) AS model_outputs`;
const MODEL_INPUTS_COLUMN = `(SELECT json_agg(json_build_object('model_id', i.model_id) ORDER BY i.model_id)
   FROM run_model_inputs i WHERE i.run_id = r.run_uuid) AS model_inputs`;
const ModelLinksRow = z.object({
  run_uuid: z.string(),
  model_outputs: z.array(z.object({ model_id: z.string(), step: z.number() })).nullish(),
  model_inputs: z.array(z.object({ model_id: z.string() })).nullish(),
});

/** Params, tags, latest metrics, dataset inputs and model links of many runs in a fixed number of queries. */
async function loadRuns(db: Queryable, rawRows: unknown[]): Promise<MlflowRun[]> {
  const rows = rawRows.map((row) => RunRow.parse(row));
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.run_uuid);
  const byRun = new Map(
    rows.map((row): [string, MlflowRun] => [
      row.run_uuid,
      { info: toRunInfo(row), data: { metrics: [], params: [], tags: [] }, inputs: { dataset_inputs: [] } },
    ]),
  );
  const runOf = (runId: string): MlflowRun => byRun.get(runId) as MlflowRun;

  const queries = [
    () => db.query<{ c: EntryColumns }>(PARAM_COLUMNS_SQL, [ids]),
    () => db.query<{ c: EntryColumns }>(TAG_COLUMNS_SQL, [ids]),
    () => db.query<{ c: MetricColumns }>(METRIC_COLUMNS_SQL, [ids]),
    () =>
      db.query(
        `SELECT i.destination_id AS run_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
                COALESCE((SELECT json_agg(json_build_object('key', t.name, 'value', t.value) ORDER BY t.name)
                          FROM input_tags t WHERE t.input_uuid = i.input_uuid), '[]'::json) AS tags
         FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
         WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ANY($1::text[])
         ORDER BY d.name, d.digest`,
        [ids],
      ),
  ] as const;
  // A pool runs the four on separate connections at once (a search page's latency); any other
  // Queryable may be a single transaction client, which runs one query at a time.
  const [params, tags, metrics, inputs] =
    db instanceof pg.Pool
      ? await Promise.all([queries[0](), queries[1](), queries[2](), queries[3]()])
      : [await queries[0](), await queries[1](), await queries[2](), await queries[3]()];
  for (const [result, into] of [
    [params, (run: MlflowRun) => run.data.params],
    [tags, (run: MlflowRun) => run.data.tags],
  ] as const) {
    const { r, k, v } = (result.rows[0] as { c: EntryColumns }).c;
    if (!r || !k || !v) continue;
    for (let i = 0; i < r.length; i++) into(runOf(r[i] as string)).push({ key: k[i] as string, value: v[i] as string });
  }
  const m = (metrics.rows[0] as { c: MetricColumns }).c;
  if (m.r && m.k && m.v && m.t && m.s && m.n) {
    for (let i = 0; i < m.r.length; i++) {
      // MLflow stores NaN as 0 with is_nan.
      const value = m.n[i] ? Number.NaN : fromJsonDouble(m.v[i] as JsonDouble);
      runOf(m.r[i] as string).data.metrics.push({ key: m.k[i] as string, value, timestamp: m.t[i] as number, step: m.s[i] as number });
    }
  }
  for (const raw of rawRows) {
    const links = ModelLinksRow.parse(raw);
    const run = runOf(links.run_uuid);
    if (links.model_outputs) run.outputs = { model_outputs: links.model_outputs };
    if (links.model_inputs) run.inputs.model_inputs = links.model_inputs;
  }
  for (const row of inputs.rows) {
    const input = DatasetInputRow.parse(row);
    runOf(input.run_uuid).inputs.dataset_inputs.push({
      tags: input.tags,
      dataset: {
        name: input.name,
        digest: input.digest,
        source_type: input.source_type,
        source: input.source,
        ...(input.schema !== null && { schema: input.schema }),
        ...(input.profile !== null && { profile: input.profile }),
      },
    });
  }
  return rows.map((row) => runOf(row.run_uuid));
}

/** The run's info alone (no params, tags or metrics): a cheap existence and lifecycle check. */
export async function getRunInfo(db: Queryable, runId: string): Promise<MlflowRunInfo | undefined> {
  const { rows } = await db.query(named('mlfleet_get_run_info', `SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1`, [runId]));
  return rows.length === 0 ? undefined : toRunInfo(RunRow.parse(rows[0]));
}

/** Runs by id, in the given order (ids of runs that do not exist drop out), fully loaded in 5 queries. */
export async function getRunsByIds(db: Queryable, runIds: readonly string[]): Promise<MlflowRun[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS}, ${MODEL_OUTPUTS_COLUMN} FROM runs r WHERE r.run_uuid = ANY($1::text[])`, [[...runIds]]);
  const byId = new Map((await loadRuns(db, rows)).map((run) => [run.info.run_id, run]));
  return runIds.map((id) => byId.get(id)).filter((run): run is MlflowRun => run !== undefined);
}

export async function getRun(db: Queryable, runId: string): Promise<MlflowRun | undefined> {
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS}, ${MODEL_OUTPUTS_COLUMN}, ${MODEL_INPUTS_COLUMN} FROM runs r WHERE r.run_uuid = $1`, [runId]);
  const [run] = await loadRuns(db, rows);
  return run;
}

/** Active runs tagged mlflow.parentRunId = parentRunId, newest first (MLflow's default order). */
export async function listChildRuns(db: Queryable, parentRunId: string): Promise<MlflowRun[]> {
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS}
     FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid
     WHERE t.key = $1 AND t.value = $2 AND r.lifecycle_stage = 'active'
     ORDER BY r.start_time DESC, r.run_uuid`,
    [PARENT_RUN_TAG, parentRunId],
  );
  return loadRuns(db, rows);
}
