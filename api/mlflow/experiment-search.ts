import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  experimentOrdering,
  searchExperiments,
  type Experiment,
  type ExperimentCursor,
  type ExperimentFilter,
  type ExperimentOrder,
  type ExperimentOrderKey,
} from '../../store/experiments';
import type { ExperimentViewer } from '../../store/permissions';
import type { MlflowRouteDeps } from './deps';
import { invalidValue } from './errors';
import { Int64, OptString, ViewTypeField, parse, repeated } from './wire';

// MLflow's experiments/search, apart from the other experiment endpoints for its size: its filter and
// order_by grammar (MLflow's SearchExperimentsUtils), its page tokens, and the endpoint.

/** SEARCH_MAX_RESULTS_THRESHOLD / MAX_EXPERIMENTS_LISTED_PER_PAGE. */
export const MAX_EXPERIMENTS_PER_PAGE = 50000;
export const DEFAULT_EXPERIMENTS_PER_PAGE = 1000;

export const SearchExperimentsRequest = z.object({
  max_results: Int64.nullish(),
  page_token: OptString,
  filter: OptString,
  order_by: repeated(z.array(z.string()).nullish()),
  view_type: ViewTypeField.nullish(),
});

// ---- search_experiments filter and order_by (SearchExperimentsUtils) ---------------------------

const STRING_COMPARATORS = ['=', '!=', 'LIKE', 'ILIKE'] as const;
const NUMERIC_COMPARATORS = ['=', '!=', '>', '>=', '<', '<='] as const;
const SEARCH_ATTRIBUTES = ['name', 'creation_time', 'last_update_time'] as const;
const ORDER_ATTRIBUTES = ['name', 'experiment_id', 'creation_time', 'last_update_time'] as const;
const ENTITY_TYPES = ['attribute', 'tag', 'tags'] as const;

const pySet = (items: readonly string[]): string => `{${items.map((i) => `'${i}'`).join(', ')}}`;
const pyTuple = (items: readonly string[]): string => `(${items.map((i) => `'${i}'`).join(', ')})`;

type Token =
  | { type: 'ident'; text: string; key: string; entity?: string }
  | { type: 'string'; text: string; value: string }
  | { type: 'number'; text: string; value: number }
  | { type: 'op'; text: string }
  | { type: 'word'; text: string };

/** Reads a quoted run ('…', "…" or `…`) starting at `start`; a doubled quote is one quote. */
function readQuoted(input: string, start: number): { value: string; end: number } {
  const quote = input[start];
  let value = '';
  let i = start + 1;
  while (i < input.length) {
    const c = input[i];
    if (c === quote) {
      if (input[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    value += c;
    i++;
  }
  throw invalidValue(`Invalid filter string: unterminated quoted value starting at position ${start}: ${input.slice(start)}`);
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      const { value, end } = readQuoted(input, i);
      tokens.push({ type: 'string', text: input.slice(i, end), value });
      i = end;
    } else if (c === '`') {
      // A backticked identifier: the whole `key` is an attribute name.
      const { value, end } = readQuoted(input, i);
      tokens.push({ type: 'ident', text: input.slice(i, end), key: value });
      i = end;
    } else if ('(),'.includes(c)) {
      // Only so that `name IN (…)` is refused for its comparator, as MLflow does.
      tokens.push({ type: 'op', text: c });
      i++;
    } else if ('=!<>'.includes(c)) {
      const op = /^(!=|<>|>=|<=|=|<|>)/.exec(input.slice(i))?.[0];
      if (op === undefined) throw invalidValue(`Invalid clause(s) in filter string: ${input.slice(i)}`);
      tokens.push({ type: 'op', text: op });
      i += op.length;
    } else if (/[-+\d.]/.test(c) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])/.test(input.slice(i))) {
      const text = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(input.slice(i))?.[0] ?? '';
      tokens.push({ type: 'number', text, value: Number(text) });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      // An identifier: `word` or `entity.key`, where the key may be quoted ("…" or `…`) and may
      // itself contain dots (split on the first dot only).
      const head = /^[A-Za-z_][\w]*/.exec(input.slice(i))?.[0] ?? '';
      let end = i + head.length;
      if (input[end] === '.') {
        const next = input[end + 1];
        let key: string;
        if (next === '"' || next === '`') {
          const quoted = readQuoted(input, end + 1);
          key = quoted.value;
          end = quoted.end;
        } else {
          const rest = /^[\w.]*/.exec(input.slice(end + 1))?.[0] ?? '';
          key = rest;
          end = end + 1 + rest.length;
        }
        tokens.push({ type: 'ident', text: input.slice(i, end), key, entity: head });
      } else if (/^(and|like|ilike|in|not|or)$/i.test(head)) {
        tokens.push({ type: 'word', text: head });
      } else {
        tokens.push({ type: 'ident', text: head, key: head });
      }
      i = end;
    } else {
      throw invalidValue(`Invalid clause(s) in filter string: ${input.slice(i)}`);
    }
  }
  return tokens;
}

/** Resolves an identifier to (entity, key) the way SearchExperimentsUtils._get_identifier does. */
function identifier(token: Token, validAttributes: readonly string[]): { kind: 'attribute' | 'tag'; key: string } {
  if (token.type !== 'ident') throw invalidValue(`Invalid clause(s) in filter string: ${token.text}`);
  let kind: 'attribute' | 'tag' = 'attribute';
  if (token.entity !== undefined) {
    if (!(ENTITY_TYPES as readonly string[]).includes(token.entity)) {
      throw invalidValue(`Invalid entity type '${token.entity}'. Valid entity types are ${pyTuple(ENTITY_TYPES)}`);
    }
    kind = token.entity === 'attribute' ? 'attribute' : 'tag';
  }
  if (kind === 'attribute' && !validAttributes.includes(token.key)) {
    throw invalidValue(`Invalid attribute key '${token.key}' specified. Valid keys are '${pySet(validAttributes)}'`);
  }
  if (token.key === '') throw invalidValue(`Invalid clause(s) in filter string: ${token.text}`);
  return { kind, key: token.key };
}

/** Parses an experiments filter: `<identifier> <comparator> <value>` joined by AND. */
export function parseExperimentFilter(filter: string | undefined): ExperimentFilter[] {
  if (filter === undefined || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const clauses: ExperimentFilter[] = [];
  let i = 0;
  while (i < tokens.length) {
    if (clauses.length > 0) {
      const and = tokens[i];
      if (and?.type !== 'word' || and.text.toUpperCase() !== 'AND') {
        throw invalidValue(`Invalid clause(s) in filter string: ${tokens.slice(i).map((t) => t.text).join(' ')}`);
      }
      i++;
    }
    const [left, compToken, right] = [tokens[i], tokens[i + 1], tokens[i + 2]];
    if (left === undefined || compToken === undefined || right === undefined) {
      throw invalidValue(`Invalid clause(s) in filter string: ${tokens.slice(i).map((t) => t.text).join(' ') || filter}`);
    }
    i += 3;
    const { kind, key } = identifier(left, SEARCH_ATTRIBUTES);
    let comparator = compToken.text.toUpperCase();
    if (comparator === 'NOT' && tokens[i - 1]?.text.toUpperCase() === 'IN') comparator = 'NOT IN';
    if (compToken.type !== 'op' && compToken.type !== 'word') {
      throw invalidValue(`Invalid clause(s) in filter string: ${left.text} ${compToken.text}`);
    }
    if (kind === 'attribute' && (key === 'creation_time' || key === 'last_update_time')) {
      if (!(NUMERIC_COMPARATORS as readonly string[]).includes(comparator)) {
        throw invalidValue(`Invalid comparator '${comparator}' not one of '${pySet(NUMERIC_COMPARATORS)}'`);
      }
      if (right.type !== 'number' || !Number.isSafeInteger(right.value)) {
        throw invalidValue(`Expected numeric value type for numeric attribute: ${key}. Found ${right.text}`);
      }
      clauses.push({ kind, key, comparator: comparator as (typeof NUMERIC_COMPARATORS)[number], value: right.value });
      continue;
    }
    if (!(STRING_COMPARATORS as readonly string[]).includes(comparator)) {
      throw invalidValue(`Invalid comparator '${comparator}' not one of '${pySet(STRING_COMPARATORS)}'`);
    }
    if (right.type !== 'string') {
      throw invalidValue(
        kind === 'tag'
          ? `Expected a quoted string value for tag '${key}'. Got value ${right.text}`
          : `Expected a quoted string value for attributes. Got value ${right.text}`,
      );
    }
    const value = right.value;
    const cmp = comparator as (typeof STRING_COMPARATORS)[number];
    clauses.push(kind === 'tag' ? { kind, key, comparator: cmp, value } : { kind, key: 'name', comparator: cmp, value });
  }
  return clauses;
}

/** Parses one order_by entry: `<identifier> [ASC|DESC]`. */
export function parseExperimentOrderBy(clause: string): ExperimentOrder {
  const match = /^\s*(.*?)(?:\s+(asc|desc))?\s*$/is.exec(clause);
  const target = match?.[1] ?? '';
  const tokens = target === '' ? [] : tokenize(target);
  const [only] = tokens;
  if (tokens.length !== 1 || only === undefined) throw invalidValue(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  const { kind, key } = identifier(only, ORDER_ATTRIBUTES);
  if (kind !== 'attribute') throw invalidValue(`Invalid order_by entity: ${kind}`);
  return { key: key as ExperimentOrderKey, ascending: (match?.[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

// ---- page tokens ---------------------------------------------------------------------------------

// Opaque to clients: base64url of {"v": 1, "o": "<ordering>", "k": [<sort values of the last row>]}.
// The ordering travels along so a token cannot be replayed against a different order_by.
const orderSignature = (orderBy: ExperimentOrder[]): string => orderBy.map((o) => `${o.key}:${o.ascending ? 'a' : 'd'}`).join(',');

export function encodePageToken(orderBy: ExperimentOrder[], cursor: ExperimentCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, o: orderSignature(orderBy), k: cursor })).toString('base64url');
}

const PageToken = z.object({ v: z.literal(1), o: z.string(), k: z.array(z.string()) });
const BIGINT_TEXT = /^-?\d{1,19}$/;

export function decodePageToken(token: string, orderBy: ExperimentOrder[]): ExperimentCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = PageToken.safeParse(decoded);
  const fits =
    parsed.success &&
    parsed.data.o === orderSignature(orderBy) &&
    parsed.data.k.length === orderBy.length &&
    parsed.data.k.every((v, i) => orderBy[i]?.key === 'name' || BIGINT_TEXT.test(v));
  if (!fits || !parsed.success) {
    throw invalidValue(`Invalid page token, could not base64-decode or parse it for this request (order_by must match the first request): ${token}`);
  }
  return parsed.data.k;
}

// ---- the endpoint ------------------------------------------------------------------------------

async function search(deps: MlflowRouteDeps, data: unknown, viewer: ExperimentViewer | undefined): Promise<{ experiments: Experiment[]; next_page_token?: string }> {
  const request = parse(SearchExperimentsRequest, data);
  const maxResults = request.max_results ?? DEFAULT_EXPERIMENTS_PER_PAGE;
  if (maxResults < 1) throw invalidValue(`Invalid value for max_results. It must be a positive integer, but got ${maxResults}`);
  if (maxResults > MAX_EXPERIMENTS_PER_PAGE) {
    throw invalidValue(`Invalid value for max_results. It must be at most ${MAX_EXPERIMENTS_PER_PAGE}, but got ${maxResults}`);
  }
  const filters = parseExperimentFilter(request.filter);
  const orderBy = experimentOrdering((request.order_by ?? []).map(parseExperimentOrderBy));
  const after = request.page_token ? decodePageToken(request.page_token, orderBy) : undefined;
  const rows = await searchExperiments(deps.pool, {
    filters,
    orderBy,
    viewType: request.view_type ?? 'ACTIVE_ONLY',
    limit: maxResults,
    after,
    viewer,
  });
  const page = rows.slice(0, maxResults);
  const last = page.at(-1);
  return {
    experiments: page.map((row) => row.experiment),
    ...(rows.length > maxResults && last && { next_page_token: encodePageToken(orderBy, last.cursor) }),
  };
}

/** Registers experiments/search on an MLflow-prefixed scope (see routes.ts). */
export function registerExperimentSearchRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  // The Python client POSTs (the first method in the proto); the UI and raw REST also GET.
  scope.post('/experiments/search', async (request) => search(deps, request.body, request.viewer));
  scope.get('/experiments/search', async (request) => search(deps, request.query, request.viewer));
}
