import { z } from 'zod';
import { type ExperimentViewer, readableBy } from './permissions';
import type { Queryable } from './pool';
import { type LoggedModel, LoggedModelRow, SELECT_LOGGED_MODEL, toLoggedModel } from './logged-models';

// MLflow's search_logged_models compiled to one parameterised query: an AND of comparisons on a
// model's attributes, metrics, params and tags, an optional datasets clause, order_by with missing
// values last, and offset paging. The request's grammar is parsed in api/mlflow.

/** Model columns a filter or order_by may name (MLflow's SqlLoggedModel columns). */
export const LOGGED_MODEL_COLUMNS = [
  'model_id',
  'experiment_id',
  'name',
  'artifact_location',
  'creation_timestamp_ms',
  'last_updated_timestamp_ms',
  'status',
  'lifecycle_stage',
  'model_type',
  'source_run_id',
  'status_message',
] as const;
export type LoggedModelColumn = (typeof LOGGED_MODEL_COLUMNS)[number];

export type NumericOp = '<' | '<=' | '>' | '>=' | '=' | '!=';
export type StringOp = '=' | '!=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** One term of the filter; numeric terms (metrics, timestamps) compare numbers, the others strings. */
export type LoggedModelComparison =
  | { kind: 'attribute'; column: LoggedModelColumn; op: NumericOp | StringOp; value: number | string | readonly string[] }
  | { kind: 'metric'; key: string; op: NumericOp; value: number }
  | { kind: 'param' | 'tag'; key: string; op: StringOp; value: string | readonly string[] };

/** A dataset of the datasets clause; a digest of null matches metrics logged without one (MLflow's `== None`). */
export interface DatasetRef {
  name: string;
  digest: string | null;
}

export type LoggedModelOrder =
  | { kind: 'attribute'; column: LoggedModelColumn; ascending: boolean }
  | { kind: 'metric'; key: string; ascending: boolean; datasetName?: string; datasetDigest?: string };

export interface LoggedModelSearch {
  experimentIds: readonly string[];
  comparisons: readonly LoggedModelComparison[];
  datasets: readonly DatasetRef[];
  orderBy: readonly LoggedModelOrder[];
  offset: number;
  /** Models per page; one more is read to know whether another page follows. */
  maxResults: number;
  /** Narrows the models to experiments this viewer may read. */
  viewer?: ExperimentViewer;
}

const NUMERIC_COLUMNS: ReadonlySet<LoggedModelColumn> = new Set(['creation_timestamp_ms', 'last_updated_timestamp_ms']);
export const isNumericColumn = (column: LoggedModelColumn): boolean => NUMERIC_COLUMNS.has(column);

/**
 * A column as MLflow's store holds it: the status as its enum number, an unset model type or source
 * run as the empty string its requests leave.
 */
function columnValue(column: LoggedModelColumn): string {
  if (column === 'experiment_id') return 'm.experiment_id::text';
  if (column === 'status') return "(CASE m.status WHEN 'UNSPECIFIED' THEN '0' WHEN 'PENDING' THEN '1' WHEN 'READY' THEN '2' ELSE '3' END)";
  if (column === 'model_type' || column === 'source_run_id') return `COALESCE(m.${column}, '')`;
  return `m.${column}`;
}

const SQL_OPS: Readonly<Record<NumericOp | StringOp, string>> = {
  '<': '<', '<=': '<=', '>': '>', '>=': '>=', '=': '=', '!=': '<>', LIKE: 'LIKE', ILIKE: 'ILIKE', IN: 'IN', 'NOT IN': 'NOT IN',
}; // prettier-ignore

/** A comparison of `expression` with a bound value; IN and NOT IN take a list. */
function compare(expression: string, op: NumericOp | StringOp, value: number | string | readonly string[], param: (value: unknown, cast: string) => string): string {
  if (op === 'IN' || op === 'NOT IN') {
    const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [String(value)];
    return `${op === 'IN' ? '' : 'NOT '}(${expression} = ANY(${param(list, '::text[]')}))`;
  }
  const cast = typeof value === 'number' ? '::float8' : '::text';
  return `${expression} ${SQL_OPS[op]} ${param(value, cast)}`;
}

function datasetClause(datasets: readonly DatasetRef[], param: (value: unknown, cast: string) => string): string {
  return `(${datasets
    .map((d) => `(x.dataset_name = ${param(d.name, '::text')} AND ${d.digest === null ? 'x.dataset_digest IS NULL' : `x.dataset_digest = ${param(d.digest, '::text')}`})`)
    .join(' OR ')})`;
}

export interface LoggedModelPage {
  models: LoggedModel[];
  /** True when another page follows. */
  more: boolean;
}

export async function searchLoggedModels(db: Queryable, search: LoggedModelSearch): Promise<LoggedModelPage> {
  const values: unknown[] = [];
  const param = (value: unknown, cast: string): string => {
    values.push(value);
    return `$${values.length}${cast}`;
  };
  const where: string[] = [
    "m.lifecycle_stage <> 'deleted'",
    `m.experiment_id = ANY(${param(search.experimentIds, '::bigint[]')})`,
  ];
  if (search.viewer) where.push(readableBy(search.viewer, 'm.experiment_id', param));
  const datasets = search.datasets.length > 0 ? search.datasets : undefined;
  let metricTerms = 0;
  for (const c of search.comparisons) {
    switch (c.kind) {
      case 'attribute':
        where.push(compare(isNumericColumn(c.column) ? `m.${c.column}` : columnValue(c.column), c.op, c.value, param));
        break;
      case 'metric':
        metricTerms++;
        where.push(
          `EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = ${param(c.key, '::text')}
                   AND ${compare('x.value', c.op, c.value, param)}${datasets ? ` AND ${datasetClause(datasets, param)}` : ''})`,
        );
        break;
      case 'param':
      case 'tag': {
        const table = c.kind === 'param' ? 'logged_model_params' : 'logged_model_tags';
        where.push(`EXISTS (SELECT 1 FROM ${table} e WHERE e.model_id = m.model_id AND e.key = ${param(c.key, '::text')} AND ${compare('e.value', c.op, c.value, param)})`);
        break;
      }
    }
  }
  // A datasets clause alone keeps the models with any metric on those datasets.
  if (datasets && metricTerms === 0) where.push(`EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND ${datasetClause(datasets, param)})`);

  const joins: string[] = [];
  const order: string[] = [];
  let hasCreation = false;
  let hasModelId = false;
  search.orderBy.forEach((o, i) => {
    const direction = o.ascending ? 'ASC' : 'DESC';
    if (o.kind === 'attribute') {
      if (o.column === 'creation_timestamp_ms') hasCreation = true;
      if (o.column === 'model_id') hasModelId = true;
      const column = o.column === 'experiment_id' ? 'm.experiment_id' : columnValue(o.column);
      order.push(`(${column} IS NULL)`, `${column} ${direction}`);
      return;
    }
    // The latest point of the metric per model (newest timestamp, then step, then run), as MLflow orders it.
    const filters = [
      `x.model_id = m.model_id`,
      `x.key = ${param(o.key, '::text')}`,
      ...(o.datasetName ? [`x.dataset_name = ${param(o.datasetName, '::text')}`] : []),
      ...(o.datasetDigest ? [`x.dataset_digest = ${param(o.datasetDigest, '::text')}`] : []),
    ];
    joins.push(
      `LEFT JOIN LATERAL (SELECT x.value FROM logged_model_metrics x WHERE ${filters.join(' AND ')}
                          ORDER BY x.timestamp DESC, x.step DESC, x.run_id ASC LIMIT 1) o${i} ON true`,
    );
    order.push(`(o${i}.value IS NULL)`, `o${i}.value ${direction}`);
  });
  if (!hasCreation) order.push('m.creation_timestamp_ms DESC');
  if (!hasModelId) order.push('m.model_id ASC');

  const sql = `${SELECT_LOGGED_MODEL} ${joins.join(' ')}
    WHERE ${where.join(' AND ')}
    ORDER BY ${order.join(', ')}
    OFFSET ${param(Math.max(search.offset, 0), '::bigint')} LIMIT ${param(Math.max(search.maxResults + 1, 0), '::bigint')}`;
  const { rows } = await db.query(sql, values);
  const models = z.array(LoggedModelRow).parse(rows).map(toLoggedModel);
  return { models: models.slice(0, search.maxResults), more: models.length > search.maxResults };
}
