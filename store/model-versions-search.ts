import { MODEL_VERSION_COLUMNS, type ModelVersion, ModelVersionRow, toModelVersion } from './model-versions';
import type { Queryable } from './pool';
import { IS_PROMPT_TAG } from './registered-models';
import {
  isQueryingPrompts,
  type NumericComparator,
  type ReadableModels,
  sqlParams,
  type StringAttributeComparison,
  stringCondition,
  type TagComparison,
  tagConditions,
} from './registered-models-search';

// MLflow's search_model_versions as one parameterised query: an AND of comparisons on the name,
// run id, source, version number and tags, the versions of prompts hidden unless the filter asks
// for them, deleted versions never shown, order_by with name and version as tie-breaks, offset paging.

export type ModelVersionComparison =
  | StringAttributeComparison<'name' | 'run_id'>
  | { kind: 'attribute'; key: 'source_path'; comparator: '=' | '!=' | 'LIKE' | 'ILIKE'; value: string }
  // An integer of any size, as decimal digits (Python's int has no bounds).
  | { kind: 'attribute'; key: 'version_number'; comparator: NumericComparator; value: string }
  | TagComparison;

export type ModelVersionOrderKey = 'name' | 'version' | 'creation_time' | 'last_updated_time';

export interface ModelVersionOrder {
  key: ModelVersionOrderKey;
  ascending: boolean;
}

/** MLflow's default order: last update first, then name, then the newest version. */
export const DEFAULT_MODEL_VERSION_ORDER: readonly ModelVersionOrder[] = [
  { key: 'last_updated_time', ascending: false },
  { key: 'name', ascending: true },
  { key: 'version', ascending: false },
];

export interface ModelVersionSearch {
  comparisons: readonly ModelVersionComparison[];
  /** The requested order (empty: MLflow's default); name ascending and version descending break ties. */
  orderBy: readonly ModelVersionOrder[];
  offset: number;
  /** Rows to read: one more than a page, to know whether another page follows. */
  limit: number;
  /** Narrows the search to the versions of models the caller may read; everyone reads everything without it. */
  readable?: ReadableModels | undefined;
}

/** The complete ordering: the requested keys (or the default), then name ASC and version DESC unless keys already. */
export function modelVersionOrdering(orderBy: readonly ModelVersionOrder[]): ModelVersionOrder[] {
  const keys = orderBy.length > 0 ? [...orderBy] : [...DEFAULT_MODEL_VERSION_ORDER];
  if (!keys.some((o) => o.key === 'name')) keys.push({ key: 'name', ascending: true });
  if (!keys.some((o) => o.key === 'version')) keys.push({ key: 'version', ascending: false });
  return keys;
}

const COLUMN_OF: Readonly<Record<'name' | 'run_id' | 'source_path', string>> = { name: 'v.name', run_id: 'v.run_id', source_path: 'v.source' };

/** One page of model versions (not deleted) with their tags. */
export async function searchModelVersions(db: Queryable, search: ModelVersionSearch): Promise<ModelVersion[]> {
  const { values, param } = sqlParams();
  const where = ['NOT v.deleted'];
  const prompts = isQueryingPrompts(search.comparisons);
  const tags: TagComparison[] = [];
  for (const c of search.comparisons) {
    if (c.kind === 'tag') {
      if (prompts || c.key !== IS_PROMPT_TAG) tags.push(c);
    } else if (c.key === 'version_number') {
      where.push(`v.version ${c.comparator} ${param(c.value, '::numeric')}`);
    } else {
      where.push(stringCondition(COLUMN_OF[c.key], c, param));
    }
  }
  // A model any of whose versions is tagged as a prompt version is a prompt, as in MLflow's store.
  if (!prompts) {
    where.push(`v.name NOT IN (SELECT p.name FROM model_version_tags p WHERE p.key = ${param(IS_PROMPT_TAG)} AND p.value = 'true')`);
  }
  where.push(...tagConditions(tags, 'model_version_tags', 't.name = v.name AND t.version = v.version', param));
  if (search.readable) where.push(search.readable('v.name', param));
  const order = modelVersionOrdering(search.orderBy)
    .map((o) => `v.${o.key} ${o.ascending ? 'ASC' : 'DESC'}`)
    .join(', ');
  const sql = `
    WITH page AS MATERIALIZED (
      SELECT v.* FROM model_versions v
      WHERE ${where.join(' AND ')}
      ORDER BY ${order}
      LIMIT ${param(Math.max(search.limit, 0), '::bigint')} OFFSET ${param(Math.max(search.offset, 0), '::bigint')}
    )
    SELECT ${MODEL_VERSION_COLUMNS} FROM page v ORDER BY ${order}`;
  const { rows } = await db.query(sql, values);
  return rows.map((row) => toModelVersion(ModelVersionRow.parse(row)));
}
