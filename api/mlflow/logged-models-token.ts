import { invalidValue } from './errors';
import { pyRepr } from './logged-models-filter';
import { pythonJsonDumps } from './logged-models-wire';

// logged-models/search page tokens as MLflow writes them (SearchLoggedModelsPaginationToken): base64
// JSON of the request's experiment ids, filter and order_by, and the offset of the next page. A token
// is only good for the request that produced it.

export interface OrderByEntry {
  field_name: string;
  ascending: boolean;
  dataset_name: string | null;
  dataset_digest: string | null;
}

/** What a token must match: the request as MLflow's handler passes it to the store. */
export interface SearchTokenRequest {
  experimentIds: readonly string[];
  filter: string | null;
  orderBy: readonly OrderByEntry[] | null;
}

/** Python's repr() of JSON-like values (None, True, lists, dicts), which MLflow's messages embed. */
function pyValue(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyRepr(value);
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (Array.isArray(value)) return `[${value.map(pyValue).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyRepr(k)}: ${pyValue(v)}`)
    .join(', ')}}`;
}

export function encodeSearchToken(request: SearchTokenRequest, offset: number): string {
  const json = pythonJsonDumps({ experiment_ids: request.experimentIds, filter_string: request.filter, order_by: request.orderBy, offset });
  return Buffer.from(json, 'utf8').toString('base64');
}

/** The offset a token carries, after checking that it was made for this same request. */
export function decodeSearchToken(token: string, request: SearchTokenRequest): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw invalidValue(`Invalid page token: ${token}. Expecting value: line 1 column 1 (char 0)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidValue(`Invalid page token: ${token}.`);
  const fields = parsed as Record<string, unknown>;
  const experimentIds = fields.experiment_ids ?? null;
  const filter = fields.filter_string || null;
  const orderBy = (Array.isArray(fields.order_by) && fields.order_by.length > 0 ? fields.order_by : null) as unknown;
  const offset = fields.offset || 0;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(experimentIds, request.experimentIds)) {
    throw invalidValue(
      'Experiment IDs in the page token do not match the requested experiment IDs. ' +
        `Expected: ${pyValue(request.experimentIds)}. Found: ${pyValue(experimentIds)}`,
    );
  }
  if (filter !== request.filter) {
    throw invalidValue(
      'Filter string in the page token does not match the requested filter string. ' +
        `Expected: ${request.filter ?? 'None'}. Found: ${typeof filter === 'string' ? filter : pyValue(filter)}`,
    );
  }
  if (!same(orderBy, request.orderBy)) {
    throw invalidValue(`Order by in the page token does not match the requested order by. Expected: ${pyValue(request.orderBy)}. Found: ${pyValue(orderBy)}`);
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw invalidValue(`Invalid page token: ${token}.`);
  return offset;
}
