import { z } from 'zod';
import { isExperimentId } from '../domain/auth';
import type { FilterClause, OrderByKey } from '../domain/run-filter';
import type { Queryable } from './pool';
import { getRunsByIds } from './run-reads';
import type { MlflowRun } from './run-record';

// MLflow's search_runs as one parameterised query: filter clauses become EXISTS sub-queries over
// latest_metrics / params / tags / dataset inputs (so a run lacking the key never matches), order_by
// keys become LEFT JOINs on unique (run_uuid, key) rows, and pages are keyset pages whose opaque
// token carries the last row's sort values. Only whitelisted column names are ever spliced in;
// every value travels as a bind parameter.

export const SEARCH_MAX_RESULTS_DEFAULT = 1000;
export const SEARCH_MAX_RESULTS_THRESHOLD = 50_000;

export type RunViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface SearchRunsInput {
  experimentIds: readonly string[];
  filter: readonly FilterClause[];
  orderBy: readonly OrderByKey[];
  runViewType?: RunViewType;
  maxResults?: number;
  pageToken?: string;
}

export interface SearchRunsResult {
  runs: MlflowRun[];
  nextPageToken?: string;
}

/** A malformed or foreign page token; the API answers INVALID_PARAMETER_VALUE. */
export class InvalidPageTokenError extends Error {
  override readonly name = 'InvalidPageTokenError';
}

type SqlType = 'float8' | 'bigint' | 'text';

/** One sort key: an SQL expression over the whitelisted columns and joins, its type and direction. */
interface SortKey {
  expr: string;
  type: SqlType;
  ascending: boolean;
  /** Never NULL (start_time, run_uuid): no NULLS LAST handling needed. */
  notNull: boolean;
  /**
   * Compare in the database collation rather than bytewise: only for run_uuid, whose generated values
   * (lowercase hex) sort the same either way, so the (experiment_id, start_time, run_uuid) index serves
   * the default order.
   */
  dbCollation?: boolean;
}

const RUN_COLUMN: Readonly<Record<string, { column: string; type: SqlType; notNull: boolean }>> = {
  run_id: { column: 'r.run_uuid', type: 'text', notNull: true },
  run_name: { column: 'r.name', type: 'text', notNull: true },
  user_id: { column: 'r.user_id', type: 'text', notNull: true },
  status: { column: 'r.status', type: 'text', notNull: true },
  artifact_uri: { column: 'r.artifact_uri', type: 'text', notNull: true },
  lifecycle_stage: { column: 'r.lifecycle_stage', type: 'text', notNull: true },
  start_time: { column: 'r.start_time', type: 'bigint', notNull: true },
  end_time: { column: 'r.end_time', type: 'bigint', notNull: false },
  experiment_id: { column: 'r.experiment_id', type: 'bigint', notNull: true },
};

function runColumn(key: string): { column: string; type: SqlType; notNull: boolean } {
  const column = RUN_COLUMN[key];
  if (!column) throw new Error(`not a searchable run attribute: ${key}`);
  return column;
}

// Text compares and sorts bytewise, as MLflow's Python sort does, whatever the database collation.
const collate = (expr: string, type: SqlType, dbCollation = false): string => (type === 'text' && !dbCollation ? `${expr} COLLATE "C"` : expr);

const SQL_OPERATOR: Readonly<Record<string, string>> = {
  '=': '=',
  '!=': '<>',
  '>': '>',
  '>=': '>=',
  '<': '<',
  '<=': '<=',
  LIKE: 'LIKE',
  ILIKE: 'ILIKE',
};

function sqlOperator(comparator: string): string {
  const op = SQL_OPERATOR[comparator];
  if (!op) throw new Error(`unsupported comparator ${comparator}`);
  return op;
}

const VIEW_STAGES: Readonly<Record<RunViewType, string[]>> = {
  ACTIVE_ONLY: ['active'],
  DELETED_ONLY: ['deleted'],
  ALL: ['active', 'deleted'],
};

const DATASET_INPUTS = `FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
      WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid`;
// Dataset context is the mlflow.data.context tag of the input.
const DATASET_CONTEXTS = `FROM inputs i JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = 'mlflow.data.context'
      WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid`;

class Params {
  readonly values: unknown[] = [];
  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }
}

function compileClause(clause: FilterClause, params: Params): string {
  switch (clause.type) {
    case 'metric': {
      const key = params.add(clause.key, 'text');
      const value = params.add(String(clause.value), 'float8');
      // NaN (is_nan) compares like IEEE NaN: unequal to everything, ordered with nothing.
      const test =
        clause.comparator === '!=' ? `(m.is_nan OR m.value <> ${value})` : `(NOT m.is_nan AND m.value ${sqlOperator(clause.comparator)} ${value})`;
      return `EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ${key} AND ${test})`;
    }
    case 'param':
    case 'tag': {
      const table = clause.type === 'param' ? 'params' : 'tags';
      const key = params.add(clause.key, 'text');
      const value = params.add(clause.value, 'text');
      return `EXISTS (SELECT 1 FROM ${table} kv WHERE kv.run_uuid = r.run_uuid AND kv.key = ${key} AND kv.value ${sqlOperator(clause.comparator)} ${value})`;
    }
    case 'attribute': {
      const { column, type } = runColumn(clause.key);
      if (Array.isArray(clause.value)) {
        const list = params.add(clause.value, 'text[]');
        return clause.comparator === 'IN' ? `${column} = ANY(${list})` : `NOT (${column} = ANY(${list}))`;
      }
      // Numbers arrive as float literals; numeric keeps 1711089570679.5 exact against a bigint.
      const value = type === 'bigint' ? params.add(String(clause.value), 'numeric') : params.add(clause.value, 'text');
      return `${column} ${sqlOperator(clause.comparator)} ${value}`;
    }
    case 'dataset': {
      const from = clause.key === 'context' ? DATASET_CONTEXTS : DATASET_INPUTS;
      const column = clause.key === 'context' ? 't.value' : clause.key === 'name' ? 'd.name' : 'd.digest';
      let test: string;
      if (Array.isArray(clause.value)) {
        const list = params.add(clause.value, 'text[]');
        test = clause.comparator === 'IN' ? `${column} = ANY(${list})` : `NOT (${column} = ANY(${list}))`;
      } else {
        test = `${column} ${sqlOperator(clause.comparator)} ${params.add(clause.value, 'text')}`;
      }
      return `EXISTS (SELECT 1 ${from} AND ${test})`;
    }
  }
}

/** Sort keys (explicit ones, then start_time DESC and run_uuid), with the joins they need. */
function compileOrder(orderBy: readonly OrderByKey[], params: Params): { keys: SortKey[]; joins: string[] } {
  const keys: SortKey[] = [];
  const joins: string[] = [];
  orderBy.forEach((key, i) => {
    const alias = `o${i}`;
    if (key.type === 'attribute') {
      const { column, type, notNull } = runColumn(key.key);
      keys.push({ expr: column, type, ascending: key.ascending, notNull });
      return;
    }
    const table = key.type === 'metric' ? 'latest_metrics' : key.type === 'param' ? 'params' : 'tags';
    // (run_uuid, key) is the primary key of each table: at most one row joins per run.
    joins.push(`LEFT JOIN ${table} ${alias} ON ${alias}.run_uuid = r.run_uuid AND ${alias}.key = ${params.add(key.key, 'text')}`);
    if (key.type === 'metric') {
      // MLflow sorts numbers first, then NaN, then runs without the metric, in both directions.
      keys.push({ expr: `(CASE WHEN ${alias}.is_nan THEN 1 WHEN ${alias}.value IS NULL THEN 2 ELSE 0 END)`, type: 'bigint', ascending: true, notNull: true });
      keys.push({ expr: `(CASE WHEN ${alias}.is_nan THEN NULL ELSE ${alias}.value END)`, type: 'float8', ascending: key.ascending, notNull: false });
    } else {
      keys.push({ expr: `${alias}.value`, type: 'text', ascending: key.ascending, notNull: false });
    }
  });
  keys.push({ expr: 'r.start_time', type: 'bigint', ascending: false, notNull: true });
  keys.push({ expr: 'r.run_uuid', type: 'text', ascending: true, notNull: true, dbCollation: true });
  return { keys, joins };
}

// ---- page tokens -------------------------------------------------------------------------------

type SortValue = number | string | null;

const TokenBody = z.object({
  v: z.literal(1),
  /** Fingerprint of the search the token belongs to. */
  q: z.string(),
  k: z.array(z.union([z.null(), z.string(), z.number()])),
});

/** FNV-1a, 32 bits: enough to tell a token from another search's. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

// ±Infinity are legitimate metric values but not JSON numbers.
const encodeSortValue = (value: SortValue): SortValue =>
  typeof value === 'number' && !Number.isFinite(value) ? (value > 0 ? 'Infinity' : '-Infinity') : value;

function encodePageToken(search: string, values: SortValue[]): string {
  return Buffer.from(JSON.stringify({ v: 1, q: fingerprint(search), k: values.map(encodeSortValue) }), 'utf8').toString('base64url');
}

function decodePageToken(token: string, search: string, keys: readonly SortKey[]): SortValue[] {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) throw new InvalidPageTokenError('Invalid page token, could not base64-decode');
  let body: z.infer<typeof TokenBody>;
  try {
    body = TokenBody.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    throw new InvalidPageTokenError('Invalid page token, could not decode it as a search_runs page token');
  }
  if (body.q !== fingerprint(search) || body.k.length !== keys.length) {
    throw new InvalidPageTokenError('Invalid page token, it belongs to a different search (experiment_ids, filter, run_view_type or order_by)');
  }
  return body.k.map((raw, i) => {
    const key = keys[i] as SortKey;
    const bad = () => new InvalidPageTokenError(`Invalid page token, sort value ${i} is malformed`);
    if (raw === null) {
      if (key.notNull) throw bad();
      return null;
    }
    switch (key.type) {
      case 'float8':
        if (typeof raw === 'number') return raw;
        if (raw === 'Infinity' || raw === '-Infinity') return Number(raw);
        throw bad();
      case 'bigint':
        if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
        throw bad();
      case 'text':
        if (typeof raw === 'string') return raw;
        throw bad();
    }
  });
}

/** `row > cursor` in the sort order, NULLs last in both directions. */
function afterCursor(keys: readonly SortKey[], cursor: readonly SortValue[], params: Params): string {
  const terms: string[] = [];
  const equalSoFar: string[] = [];
  keys.forEach((key, i) => {
    const value = cursor[i] ?? null;
    const expr = collate(key.expr, key.type, key.dbCollation);
    if (value === null) {
      // Nothing sorts after NULL within this key; equal means NULL too.
      equalSoFar.push(`${key.expr} IS NULL`);
      return;
    }
    const param = collate(params.add(key.type === 'text' ? value : String(value), key.type), key.type, key.dbCollation);
    const beyond = `${expr} ${key.ascending ? '>' : '<'} ${param}`;
    const after = key.notNull ? beyond : `(${beyond} OR ${key.expr} IS NULL)`;
    terms.push([...equalSoFar, after].join(' AND '));
    equalSoFar.push(`${expr} = ${param}`);
  });
  return terms.length === 0 ? 'FALSE' : terms.map((t) => `(${t})`).join(' OR ');
}

/** The ids of one page of matching runs, in order, and the token for the next page. */
export async function searchRunIds(db: Queryable, input: SearchRunsInput): Promise<{ runIds: string[]; nextPageToken?: string }> {
  const maxResults = input.maxResults ?? SEARCH_MAX_RESULTS_DEFAULT;
  const viewType = input.runViewType ?? 'ACTIVE_ONLY';
  // Experiment ids are numeric strings; any other id names no experiment and matches nothing.
  const experimentIds = input.experimentIds.filter(isExperimentId);
  const search = JSON.stringify([[...experimentIds].sort(), input.filter, input.orderBy, viewType]);
  const params = new Params();
  const { keys, joins } = compileOrder(input.orderBy, params);
  const cursor = input.pageToken ? decodePageToken(input.pageToken, search, keys) : undefined;
  if (experimentIds.length === 0) return { runIds: [] };

  const where = [
    `r.experiment_id = ANY(${params.add(experimentIds, 'bigint[]')})`,
    `r.lifecycle_stage = ANY(${params.add(VIEW_STAGES[viewType], 'text[]')})`,
    ...input.filter.map((clause) => compileClause(clause, params)),
  ];
  if (cursor) where.push(`(${afterCursor(keys, cursor, params)})`);
  const select = keys.map((key, i) => `${key.expr} AS s${i}`).join(', ');
  const order = keys.map((key) => `${collate(key.expr, key.type, key.dbCollation)} ${key.ascending ? 'ASC' : 'DESC'}${key.notNull ? '' : ' NULLS LAST'}`);
  const sql = `SELECT ${select}
    FROM runs r
    ${joins.join('\n    ')}
    WHERE ${where.join('\n      AND ')}
    ORDER BY ${order.join(', ')}
    LIMIT ${params.add(maxResults + 1, 'int')}`;
  const { rows } = await db.query(sql, params.values);
  const page = (rows as Array<Record<string, SortValue>>).slice(0, maxResults);
  const runIds = page.map((row) => String(row[`s${keys.length - 1}`]));
  const last = page.at(-1);
  if (rows.length <= maxResults || !last) return { runIds };
  return { runIds, nextPageToken: encodePageToken(search, keys.map((_key, i) => last[`s${i}`] ?? null)) };
}

// ---- loading the page --------------------------------------------------------------------------
// getRunsByIds (run-reads.ts) loads the page in a fixed number of queries, however many runs it holds.

/** MLflow's search_runs: one page of runs in order, and the token for the next page if any. */
export async function searchRuns(db: Queryable, input: SearchRunsInput): Promise<SearchRunsResult> {
  const { runIds, nextPageToken } = await searchRunIds(db, input);
  const runs = await getRunsByIds(db, runIds);
  return nextPageToken ? { runs, nextPageToken } : { runs };
}
