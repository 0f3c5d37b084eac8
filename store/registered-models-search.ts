import type { Queryable } from './pool';
import { IS_PROMPT_TAG, REGISTERED_MODEL_COLUMNS, type RegisteredModel, toRegisteredModel } from './registered-models';

// MLflow's search_registered_models as one parameterised query: an AND of comparisons on the name
// and on tags, prompts hidden unless the filter asks for them, order_by with the name as the
// tie-break, offset paging. The types of the comparisons are shared with the version search
// (model-versions-search.ts); the request's grammar is parsed in api/mlflow.

export type StringComparator = '=' | '!=' | 'LIKE' | 'ILIKE';
export type ListComparator = 'IN' | 'NOT IN';
export type NumericComparator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** `tags.<key> <op> '<value>'`; several on one key must all hold for that one tag. */
export interface TagComparison {
  kind: 'tag';
  key: string;
  comparator: StringComparator;
  value: string;
}

/** A comparison of a string attribute, with one value or with a list. */
export type StringAttributeComparison<K extends string> =
  | { kind: 'attribute'; key: K; comparator: StringComparator; value: string }
  | { kind: 'attribute'; key: K; comparator: ListComparator; values: readonly string[] };

export type RegisteredModelComparison = StringAttributeComparison<'name'> | TagComparison;

/** Appends a value to a query's parameters and returns its placeholder (with a cast, if given). */
export type SqlParam = (value: unknown, cast?: string) => string;

/**
 * Narrows a search to what one caller may read: a WHERE fragment that holds for the rows whose
 * registered model (its name in `nameColumn`) the caller may read. Values go through `param`.
 */
export type ReadableModels = (nameColumn: string, param: SqlParam) => string;

/** A query's parameter list and the function that appends to it. */
export function sqlParams(): { values: unknown[]; param: SqlParam } {
  const values: unknown[] = [];
  return {
    values,
    param: (value, cast = '') => {
      values.push(value);
      return `$${values.length}${cast}`;
    },
  };
}

/**
 * Whether a filter asks for prompts (MLflow's _is_querying_prompt): its first comparison of the
 * prompt tag is `= 'true'` or `!= 'false'` (any case). Otherwise prompts are hidden and the
 * comparisons of the prompt tag are dropped.
 */
export function isQueryingPrompts(comparisons: ReadonlyArray<{ kind: string; key: string; comparator: string; value?: string }>): boolean {
  const first = comparisons.find((c) => c.kind === 'tag' && c.key === IS_PROMPT_TAG);
  if (first?.value === undefined) return false;
  const value = first.value.toLowerCase();
  return (first.comparator === '=' && value === 'true') || (first.comparator === '!=' && value === 'false');
}

/** The WHERE fragments of string comparisons on a column. */
export function stringCondition(column: string, c: { comparator: StringComparator | ListComparator; value?: string; values?: readonly string[] }, param: SqlParam): string {
  if (c.comparator === 'IN') return `${column} = ANY(${param(c.values ?? [], '::text[]')})`;
  if (c.comparator === 'NOT IN') return `NOT (${column} = ANY(${param(c.values ?? [], '::text[]')}))`;
  return `${column} ${c.comparator} ${param(c.value ?? '')}`;
}

/**
 * The tag comparisons as one EXISTS per tag key (all comparisons of a key hold for its one tag, as
 * MLflow's grouped tag filter has it), against `tagTable` rows matching `match`.
 */
export function tagConditions(comparisons: readonly TagComparison[], tagTable: string, match: string, param: SqlParam): string[] {
  const byKey = new Map<string, TagComparison[]>();
  for (const c of comparisons) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
  return [...byKey].map(
    ([key, terms]) =>
      `EXISTS (SELECT 1 FROM ${tagTable} t WHERE ${match} AND t.key = ${param(key)} AND ${terms.map((c) => `t.value ${c.comparator} ${param(c.value)}`).join(' AND ')})`,
  );
}

export type RegisteredModelOrderKey = 'name' | 'last_updated_time';

export interface RegisteredModelOrder {
  key: RegisteredModelOrderKey;
  ascending: boolean;
}

export interface RegisteredModelSearch {
  comparisons: readonly RegisteredModelComparison[];
  /** The requested order; the name (ascending) is added as the tie-break unless it is a key. */
  orderBy: readonly RegisteredModelOrder[];
  offset: number;
  /** Rows to read: one more than a page, to know whether another page follows. */
  limit: number;
  /** Narrows the search to what the caller may read; everyone reads everything without it. */
  readable?: ReadableModels | undefined;
}

/** The complete ordering: the requested keys, then the name ascending unless it is one. */
export const registeredModelOrdering = (orderBy: readonly RegisteredModelOrder[]): RegisteredModelOrder[] =>
  orderBy.some((o) => o.key === 'name') ? [...orderBy] : [...orderBy, { key: 'name', ascending: true }];

const orderClause = (orderBy: readonly RegisteredModelOrder[]): string =>
  registeredModelOrdering(orderBy).map((o) => `r.${o.key} ${o.ascending ? 'ASC' : 'DESC'}`).join(', ');

/**
 * One page of registered models with their tags, aliases and latest versions. The page's names
 * are chosen first (served by the name or update-time index), and only they are expanded.
 */
export async function searchRegisteredModels(db: Queryable, search: RegisteredModelSearch): Promise<RegisteredModel[]> {
  const { values, param } = sqlParams();
  const where: string[] = [];
  const prompts = isQueryingPrompts(search.comparisons);
  const tags: TagComparison[] = [];
  for (const c of search.comparisons) {
    if (c.kind === 'attribute') where.push(stringCondition('r.name', c, param));
    else if (prompts || c.key !== IS_PROMPT_TAG) tags.push(c);
  }
  if (!prompts) {
    where.push(`r.name NOT IN (SELECT p.name FROM registered_model_tags p WHERE p.key = ${param(IS_PROMPT_TAG)} AND p.value = 'true')`);
  }
  where.push(...tagConditions(tags, 'registered_model_tags', 't.name = r.name', param));
  if (search.readable) where.push(search.readable('r.name', param));
  const order = orderClause(search.orderBy);
  const sql = `
    WITH page AS MATERIALIZED (
      SELECT r.* FROM registered_models r
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order}
      LIMIT ${param(Math.max(search.limit, 0), '::bigint')} OFFSET ${param(Math.max(search.offset, 0), '::bigint')}
    )
    SELECT ${REGISTERED_MODEL_COLUMNS} FROM page r ORDER BY ${order}`;
  const { rows } = await db.query(sql, values);
  return rows.map(toRegisteredModel);
}
