import {
  type DatasetRef,
  isNumericColumn,
  LOGGED_MODEL_COLUMNS,
  type LoggedModelColumn,
  type LoggedModelComparison,
  type LoggedModelOrder,
  type NumericOp,
  type StringOp,
} from '../../store/logged-models-search';
import { invalidValue } from './errors';

// The request grammar of MLflow's logged-models/search (mlflow/utils/search_logged_model_utils.py):
// an AND of `<entity> <op> <value>` terms, and order_by fields; with MLflow's messages for each refusal.

/** Python's repr() of a str, which MLflow's messages embed. */
export function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's repr() of a tuple of strs. */
const pyTuple = (values: readonly string[]): string => `(${values.map(pyRepr).join(', ')}${values.length === 1 ? ',' : ''})`;

/** MLflow's aliases for attribute names. */
const ALIASES: Readonly<Record<string, LoggedModelColumn>> = {
  creation_time: 'creation_timestamp_ms',
  creation_timestamp: 'creation_timestamp_ms',
  last_updated_timestamp: 'last_updated_timestamp_ms',
};

const NUMERIC_OPS: readonly NumericOp[] = ['<', '<=', '>', '>=', '=', '!='];
const STRING_OPS: readonly StringOp[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];
const ENTITY_TYPES = ['attributes', 'metrics', 'params', 'tags'] as const;

const isColumn = (name: string): name is LoggedModelColumn => (LOGGED_MODEL_COLUMNS as readonly string[]).includes(name);

type Token = { kind: 'word' | 'string' | 'number' | 'op' | 'list'; text: string };

// One token of a filter: a quoted string, a parenthesised list, a comparison operator, a number, or
// a word (an identifier, possibly dotted and with quoted parts, or a keyword).
const TOKEN = new RegExp(
  [
    String.raw`(?<string>'(?:''|\\.|[^'\\])*')`,
    String.raw`(?<list>\((?:'(?:''|\\.|[^'\\])*'|"(?:[^"\\]|\\.)*"|[^()'"])*\))`,
    String.raw`(?<op><=>|<=|>=|!=|<>|==|!~~\*|!~~|!~\*|!~|~~\*|~~|~\*|~|=|<|>)`,
    String.raw`(?<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))`,
    String.raw`(?<word>(?:\w+|` + '`[^`]*`' + String.raw`|"(?:[^"\\]|\\.)*")(?:\.(?:\w+|` + '`[^`]*`' + String.raw`|"(?:[^"\\]|\\.)*"))*)`,
  ].join('|'),
  'y',
);

function tokenize(filter: string): Token[] | undefined {
  const tokens: Token[] = [];
  let at = 0;
  while (at < filter.length) {
    const space = /\s+/y;
    space.lastIndex = at;
    if (space.test(filter)) {
      at = space.lastIndex;
      continue;
    }
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(filter);
    if (!match?.groups) return undefined;
    const [kind, text] = Object.entries(match.groups).find(([, v]) => v !== undefined) as [Token['kind'], string];
    tokens.push({ kind, text });
    at = TOKEN.lastIndex;
  }
  return tokens;
}

/** ast.literal_eval of a parenthesised list of string literals; undefined if it is anything else. */
function literalStrings(list: string): string[] | undefined {
  const inner = list.slice(1, -1).trim();
  if (inner === '') return [];
  const items: string[] = [];
  const ITEM = /\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)")\s*(,|$)/y;
  let at = 0;
  while (at < inner.length) {
    ITEM.lastIndex = at;
    const match = ITEM.exec(inner);
    if (!match) return undefined;
    items.push((match[1] ?? match[2] ?? '').replace(/\\(.)/g, '$1'));
    at = ITEM.lastIndex;
    if (match[3] === '') break;
  }
  return items;
}

const badFilter = (filter: string) =>
  invalidValue(
    `Invalid filter string: ${pyRepr(filter)}. Expected a list of comparisons separated by 'AND' ` +
      "(e.g. 'metrics.loss > 0.1 AND params.lr = 0.01').",
  );

type Entity = { type: (typeof ENTITY_TYPES)[number]; key: string };

function entityOf(identifier: string): Entity {
  const dotted = /^([a-z]+)\.(.+)$/.exec(identifier);
  if (dotted) {
    const type = dotted[1] as string;
    if (!(ENTITY_TYPES as readonly string[]).includes(type)) {
      throw invalidValue(`Invalid entity type: ${pyRepr(type)}. Expected one of ['attributes', 'metrics', 'params', 'tags'].`);
    }
    return { type: type as Entity['type'], key: (dotted[2] as string).replace(/^`+|`+$/g, '') };
  }
  return { type: 'attributes', key: (ALIASES[identifier] ?? identifier).replace(/^`+|`+$/g, '') };
}

function toNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value) && !/^[-+]?nan$/i.test(text.trim())) {
    throw invalidValue(`could not convert string to float: ${pyRepr(text)}`);
  }
  return value;
}

/** The filter's terms, or MLflow's INVALID_PARAMETER_VALUE for the first problem. */
export function parseLoggedModelFilter(filter: string | undefined): LoggedModelComparison[] {
  if (!filter) return [];
  const tokens = tokenize(filter);
  if (!tokens) throw badFilter(filter);
  const comparisons: LoggedModelComparison[] = [];
  let i = 0;
  while (i < tokens.length) {
    // MLflow skips every AND it meets between the comparisons, a leading or trailing one too.
    if (tokens[i]?.kind === 'word' && tokens[i]?.text.toUpperCase() === 'AND') {
      i++;
      continue;
    }
    const identifier = tokens[i];
    if (identifier?.kind !== 'word') throw badFilter(filter);
    let opToken = tokens[i + 1];
    let op = opToken?.text.toUpperCase();
    let valueAt = i + 2;
    if (opToken?.kind === 'word' && op === 'NOT' && tokens[i + 2]?.text.toUpperCase() === 'IN') {
      op = 'NOT IN';
      opToken = tokens[i + 2];
      valueAt = i + 3;
    }
    const value = tokens[valueAt];
    if (!opToken || !op || !value || !(opToken.kind === 'op' || ['LIKE', 'ILIKE', 'IN', 'NOT IN'].includes(op))) throw badFilter(filter);
    if (value.kind === 'op' || ((op === 'IN' || op === 'NOT IN') !== (value.kind === 'list'))) throw badFilter(filter);
    comparisons.push(comparisonOf(entityOf(identifier.text), op, value));
    i = valueAt + 1;
  }
  return comparisons;
}

function comparisonOf(entity: Entity, op: string, value: Token): LoggedModelComparison {
  const name = `${entity.type}.${entity.key}`;
  const column = entity.type === 'attributes' && isColumn(entity.key) ? entity.key : undefined;
  const numeric = entity.type === 'metrics' || (column !== undefined && isNumericColumn(column));
  const ops: readonly string[] = numeric ? NUMERIC_OPS : STRING_OPS;
  if (!ops.includes(op)) {
    throw invalidValue(`Invalid comparison operator for ${name}: ${pyRepr(op)}. Expected one of ${pyTuple(ops)}.`);
  }
  // MLflow's store fails on a column it does not have (a 500 there); a clear refusal here.
  if (entity.type === 'attributes' && column === undefined) throw invalidValue(`Invalid attribute key: ${pyRepr(entity.key)}.`);
  if (numeric) {
    const number = toNumber(value.text);
    return column ? { kind: 'attribute', column, op: op as NumericOp, value: number } : { kind: 'metric', key: entity.key, op: op as NumericOp, value: number };
  }
  let text: string | readonly string[];
  if (value.kind === 'list') {
    const list = literalStrings(value.text);
    if (!list) throw invalidValue(`Invalid value ${value.text} in the filter: expected a list of strings.`);
    text = list;
  } else {
    text = value.text.replace(/^'+|'+$/g, '');
  }
  if (column) return { kind: 'attribute', column, op: op as StringOp, value: text };
  return { kind: entity.type === 'params' ? 'param' : 'tag', key: entity.key, op: op as StringOp, value: text };
}

export interface OrderByItem {
  field_name?: string | undefined;
  ascending?: boolean | null | undefined;
  dataset_name?: string | undefined;
  dataset_digest?: string | undefined;
}

/** The order_by fields: a model attribute, or `metrics.<key>` (optionally on one dataset). */
export function parseLoggedModelOrderBy(orderBy: readonly OrderByItem[]): LoggedModelOrder[] {
  return orderBy.map((item) => {
    const field = item.field_name ?? '';
    const ascending = item.ascending ?? true;
    if (!field.includes('.')) {
      const column = ALIASES[field] ?? field;
      if (!isColumn(column)) throw invalidValue(`Invalid order by field name: ${field}`);
      return { kind: 'attribute', column, ascending };
    }
    const [entity, key] = [field.slice(0, field.indexOf('.')), field.slice(field.indexOf('.') + 1)];
    if (entity !== 'metrics') throw invalidValue(`Invalid order by field name: ${field}. Only metrics are supported.`);
    return {
      kind: 'metric',
      key,
      ascending,
      ...(item.dataset_name && { datasetName: item.dataset_name }),
      ...(item.dataset_digest && { datasetDigest: item.dataset_digest }),
    };
  });
}

/** The datasets clause: each must name a dataset; a missing digest matches metrics logged without one. */
export function parseDatasets(datasets: ReadonlyArray<{ dataset_name?: string | undefined; dataset_digest?: string | undefined }>): DatasetRef[] {
  if (!datasets.every((d) => d.dataset_name)) throw invalidValue('`dataset_name` in the `datasets` clause must be specified.');
  return datasets.map((d) => ({ name: d.dataset_name as string, digest: d.dataset_digest || null }));
}
