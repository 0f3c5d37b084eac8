// MLflow's search_runs filter and order_by grammar (mlflow/utils/search_utils.py, SearchUtils),
// parsed into a small AST. Pure: the store compiles the AST into SQL. Error messages are MLflow's
// where it has one; Python set literals in them are written in a fixed order.

/** A malformed filter or order_by; the API answers it as INVALID_PARAMETER_VALUE. */
export class RunFilterError extends Error {
  override readonly name = 'RunFilterError';
}

export const NUMERIC_COMPARATORS = ['>', '>=', '!=', '=', '<', '<='] as const;
export const STRING_COMPARATORS = ['!=', '=', 'LIKE', 'ILIKE'] as const;
export const LIST_COMPARATORS = ['IN', 'NOT IN'] as const;
export type NumericComparator = (typeof NUMERIC_COMPARATORS)[number];
export type StringComparator = (typeof STRING_COMPARATORS)[number];
export type ListComparator = (typeof LIST_COMPARATORS)[number];

export const NUMERIC_ATTRIBUTES = ['start_time', 'end_time'] as const;
export const STRING_ATTRIBUTES = ['run_id', 'run_name', 'user_id', 'status', 'artifact_uri', 'lifecycle_stage'] as const;
export type NumericAttribute = (typeof NUMERIC_ATTRIBUTES)[number];
export type StringAttribute = (typeof STRING_ATTRIBUTES)[number];
/** Orderable beyond the searchable ones (RunInfo's properties). */
export type OrderAttribute = NumericAttribute | StringAttribute | 'experiment_id';
export const DATASET_KEYS = ['name', 'digest', 'context'] as const;
export type DatasetKey = (typeof DATASET_KEYS)[number];

export type FilterClause =
  | { type: 'metric'; key: string; comparator: NumericComparator; value: number }
  | { type: 'param' | 'tag'; key: string; comparator: StringComparator; value: string }
  | { type: 'attribute'; key: NumericAttribute; comparator: NumericComparator; value: number }
  | { type: 'attribute'; key: StringAttribute; comparator: StringComparator; value: string }
  | { type: 'attribute'; key: 'run_id'; comparator: ListComparator; value: string[] }
  | { type: 'dataset'; key: DatasetKey; comparator: StringComparator; value: string }
  | { type: 'dataset'; key: DatasetKey; comparator: ListComparator; value: string[] };

export type OrderByKey =
  | { type: 'metric' | 'param' | 'tag'; key: string; ascending: boolean }
  | { type: 'attribute'; key: OrderAttribute; ascending: boolean };

// ---- tokens ------------------------------------------------------------------------------------

interface Segment {
  text: string;
  /** The quote around it: '"', '`', or '' for a bare word. */
  quote: string;
}

type Token =
  | { kind: 'ident'; raw: string; segments: Segment[]; start: number; end: number }
  | { kind: 'string'; raw: string; value: string; quote: string; start: number; end: number }
  | { kind: 'number'; raw: string; value: number; start: number; end: number }
  | { kind: 'op'; raw: string; start: number; end: number }
  | { kind: 'punct'; raw: '(' | ')' | ','; start: number; end: number }
  | { kind: 'semicolon'; raw: ';'; start: number; end: number }
  | { kind: 'junk'; raw: string; start: number; end: number };

const NUMBER = /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?(?![A-Za-z0-9_.])/y;
const OPERATOR = /!=|<>|<=|>=|==|=|<|>/y;

function matchAt(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(text)?.[0];
}

/** The end of a quoted run starting at `at` (a doubled quote stands for itself), or -1. */
function quotedEnd(text: string, at: number, quote: string): number {
  let i = at + 1;
  for (;;) {
    const close = text.indexOf(quote, i);
    if (close < 0) return -1;
    if (text[close + 1] === quote) {
      i = close + 2;
      continue;
    }
    return close + 1;
  }
}

const unquote = (raw: string, quote: string): string => raw.slice(1, -1).split(quote + quote).join(quote);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: 'punct', raw: ch, start, end: ++i });
      continue;
    }
    if (ch === ';') {
      tokens.push({ kind: 'semicolon', raw: ';', start, end: ++i });
      continue;
    }
    const op = matchAt(OPERATOR, text, i);
    if (op) {
      i += op.length;
      tokens.push({ kind: 'op', raw: op, start, end: i });
      continue;
    }
    const num = matchAt(NUMBER, text, i);
    if (num) {
      i += num.length;
      tokens.push({ kind: 'number', raw: num, value: Number(num), start, end: i });
      continue;
    }
    if (ch === "'") {
      const end = quotedEnd(text, i, "'");
      if (end < 0) {
        tokens.push({ kind: 'junk', raw: text.slice(i), start, end: text.length });
        break;
      }
      tokens.push({ kind: 'string', raw: text.slice(i, end), value: unquote(text.slice(i, end), "'"), quote: "'", start, end });
      i = end;
      continue;
    }
    // An identifier: segments (bare words, "…" or `…`) joined by dots without spaces.
    if (ch === '"' || ch === '`' || /[A-Za-z0-9_$]/.test(ch)) {
      const segments: Segment[] = [];
      let j = i;
      let ok = true;
      for (;;) {
        const c = text[j];
        if (c === '"' || c === '`') {
          const end = quotedEnd(text, j, c);
          if (end < 0) {
            ok = false;
            break;
          }
          segments.push({ text: unquote(text.slice(j, end), c), quote: c });
          j = end;
        } else {
          const word = matchAt(/[A-Za-z0-9_$]+/y, text, j);
          if (!word) {
            ok = false;
            break;
          }
          segments.push({ text: word, quote: '' });
          j += word.length;
        }
        if (text[j] !== '.') break;
        j++;
      }
      if (!ok) {
        tokens.push({ kind: 'junk', raw: text.slice(i), start, end: text.length });
        break;
      }
      const raw = text.slice(i, j);
      const only = segments[0] as Segment;
      if (segments.length === 1 && only.quote === '"') {
        // A lone double-quoted run is a string value (or, on the left, a quoted attribute name).
        tokens.push({ kind: 'string', raw, value: only.text, quote: '"', start, end: j });
      } else {
        tokens.push({ kind: 'ident', raw, segments, start, end: j });
      }
      i = j;
      continue;
    }
    const junk = matchAt(/[^\s()',;"`]+/y, text, i) ?? ch;
    i += junk.length;
    tokens.push({ kind: 'junk', raw: junk, start, end: i });
  }
  return tokens;
}

const isKeyword = (token: Token | undefined, word: string): boolean =>
  token?.kind === 'ident' && token.segments.length === 1 && token.segments[0]?.quote === '' && token.segments[0].text.toUpperCase() === word;

// ---- identifiers -------------------------------------------------------------------------------

type EntityType = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

const ENTITY_TYPES: Readonly<Record<string, EntityType>> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};
const CANONICAL_TYPES = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

const ATTRIBUTE_ALIASES: Readonly<Record<string, NumericAttribute | StringAttribute | 'experiment_id'>> = {
  created: 'start_time',
  Created: 'start_time',
  'run name': 'run_name',
  'Run name': 'run_name',
  'Run Name': 'run_name',
};
const SEARCH_ATTRIBUTE_KEYS = [...STRING_ATTRIBUTES, ...NUMERIC_ATTRIBUTES, 'created', 'Created', 'run name', 'Run name', 'Run Name'];
const ORDER_ATTRIBUTE_KEYS = [
  'artifact_uri',
  'end_time',
  'experiment_id',
  'lifecycle_stage',
  'run_id',
  'run_name',
  'run_uuid',
  'start_time',
  'status',
  'user_id',
  'created',
  'Created',
  'run name',
  'Run name',
  'Run Name',
];

/** A Python set literal, as MLflow's messages print them. */
const pySet = (items: readonly string[]): string => `{${items.map((item) => `'${item}'`).join(', ')}}`;

interface Identifier {
  type: EntityType;
  key: string;
}

function resolveIdentifier(token: Extract<Token, { kind: 'ident' | 'string' }>, validAttributes: readonly string[]): Identifier {
  let typeName: string;
  let key: string;
  if (token.kind === 'string') {
    // "key" alone: an attribute.
    typeName = 'attribute';
    key = token.value;
  } else {
    const [first, ...rest] = token.segments as [Segment, ...Segment[]];
    if (rest.length === 0) {
      typeName = 'attribute';
      key = first.text;
    } else {
      typeName = first.text;
      key = rest.length === 1 ? (rest[0] as Segment).text : token.raw.slice(token.raw.indexOf('.', first.quote ? first.text.length + 2 : 0) + 1);
    }
  }
  const type = ENTITY_TYPES[typeName];
  if (!type) throw new RunFilterError(`Invalid entity type '${typeName}'. Valid values are ${CANONICAL_TYPES}`);
  if (type === 'attribute' && !validAttributes.includes(key)) {
    throw new RunFilterError(`Invalid attribute key '${key}' specified. Valid keys are '${pySet(validAttributes)}'`);
  }
  if (type === 'dataset' && !(DATASET_KEYS as readonly string[]).includes(key)) {
    throw new RunFilterError(`Invalid dataset key '${key}' specified. Valid keys are '${pySet(DATASET_KEYS)}'`);
  }
  if (type === 'attribute') key = ATTRIBUTE_ALIASES[key] ?? (key === 'run_uuid' ? 'run_id' : key);
  return { type, key };
}

// ---- values ------------------------------------------------------------------------------------

type Value =
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'string'; value: string; raw: string }
  | { kind: 'bare'; raw: string }
  | { kind: 'list'; values: string[]; raw: string };

const notQuoted = (raw: string) =>
  new RunFilterError(
    `Parameter value is either not quoted or unidentified quote types used for string value ${raw}. Use either single or double quotes.`,
  );

function expectString(value: Value, typeLabel: string): string {
  if (value.kind === 'string') return value.value;
  if (value.kind === 'bare') throw notQuoted(value.raw);
  throw new RunFilterError(`Expected a quoted string value for ${typeLabel} (e.g. 'my-value'). Got value ${value.raw}`);
}

function checkComparator<C extends string>(comparator: string, valid: readonly C[]): C {
  if (!(valid as readonly string[]).includes(comparator)) {
    throw new RunFilterError(`Invalid comparator '${comparator}' not one of '${pySet(valid)}'`);
  }
  return comparator as C;
}

function listOrScalar(comparator: string, value: Value, valid: readonly string[]): 'list' | 'scalar' {
  if ((LIST_COMPARATORS as readonly string[]).includes(comparator)) {
    if (value.kind !== 'list') {
      throw new RunFilterError(`Comparator '${comparator}' expects a list of quoted string values, e.g. ('a', 'b'). Got value ${value.raw}`);
    }
    return 'list';
  }
  checkComparator(comparator, valid);
  if (value.kind === 'list') {
    throw new RunFilterError(`Invalid comparator '${comparator}' for a list of values; only 'IN' and 'NOT IN' take a list.`);
  }
  return 'scalar';
}

function toClause(id: Identifier, comparator: string, value: Value): FilterClause {
  switch (id.type) {
    case 'metric': {
      if (value.kind !== 'number') throw new RunFilterError(`Expected numeric value type for metric. Found ${value.raw}`);
      return { type: 'metric', key: id.key, comparator: checkComparator(comparator, NUMERIC_COMPARATORS), value: value.value };
    }
    case 'param':
    case 'tag': {
      const text = expectString(value, id.type === 'param' ? 'parameter' : 'tag');
      return { type: id.type, key: id.key, comparator: checkComparator(comparator, STRING_COMPARATORS), value: text };
    }
    case 'attribute': {
      if ((NUMERIC_ATTRIBUTES as readonly string[]).includes(id.key)) {
        if (value.kind !== 'number') {
          throw new RunFilterError(`Expected numeric value type for numeric attribute: ${id.key}. Found ${value.raw}`);
        }
        return {
          type: 'attribute',
          key: id.key as NumericAttribute,
          comparator: checkComparator(comparator, NUMERIC_COMPARATORS),
          value: value.value,
        };
      }
      const key = id.key as StringAttribute;
      if (value.kind === 'list') {
        if (key !== 'run_id') {
          throw new RunFilterError("Only the 'run_id' attribute supports comparison with a list of quoted string values.");
        }
        listOrScalar(comparator, value, [...STRING_COMPARATORS, ...LIST_COMPARATORS]);
        return { type: 'attribute', key, comparator: comparator as ListComparator, value: value.values };
      }
      if (value.kind === 'bare') throw notQuoted(value.raw);
      if (value.kind === 'number') {
        throw new RunFilterError(`Expected a quoted string value or a list of quoted string values for attributes. Got value ${value.raw}`);
      }
      const valid = key === 'run_id' ? [...STRING_COMPARATORS, ...LIST_COMPARATORS] : STRING_COMPARATORS;
      listOrScalar(comparator, value, valid);
      return { type: 'attribute', key, comparator: comparator as StringComparator, value: value.value };
    }
    case 'dataset': {
      const key = id.key as DatasetKey;
      if (value.kind === 'list') {
        listOrScalar(comparator, value, [...STRING_COMPARATORS, ...LIST_COMPARATORS]);
        return { type: 'dataset', key, comparator: comparator as ListComparator, value: value.values };
      }
      const text = expectString(value, 'dataset');
      listOrScalar(comparator, value, [...STRING_COMPARATORS, ...LIST_COMPARATORS]);
      return { type: 'dataset', key, comparator: comparator as StringComparator, value: text };
    }
  }
}

// ---- filter ------------------------------------------------------------------------------------

/** Reads `( 'a', 'b' )` from tokens[at] (an opening parenthesis); returns the values and the index after it. */
function readList(text: string, tokens: Token[], at: number): { value: Value; next: number } | undefined {
  const values: string[] = [];
  let i = at + 1;
  for (;;) {
    const token = tokens[i];
    if (!token) return undefined;
    if (token.kind === 'punct' && token.raw === ')') {
      if (values.length === 0) {
        throw new RunFilterError('While parsing a list in the query, expected a non-empty list of string values, but got empty list');
      }
      break;
    }
    if (token.kind !== 'string') {
      if (token.kind === 'punct' && token.raw === '(') return undefined;
      throw new RunFilterError(
        `While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ${token.raw}`,
      );
    }
    values.push(token.value);
    i++;
    const sep = tokens[i];
    if (sep?.kind === 'punct' && sep.raw === ',') {
      i++;
      continue;
    }
    if (sep?.kind === 'punct' && sep.raw === ')') continue;
    if (!sep) return undefined;
    throw new RunFilterError(
      `While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ${sep.raw}`,
    );
  }
  const open = tokens[at] as Token;
  const close = tokens[i] as Token;
  return { value: { kind: 'list', values, raw: text.slice(open.start, close.end) }, next: i + 1 };
}

function readValue(token: Token): Value | undefined {
  switch (token.kind) {
    case 'number':
      return { kind: 'number', value: token.value, raw: token.raw };
    case 'string':
      return { kind: 'string', value: token.value, raw: token.raw };
    case 'ident':
      return { kind: 'bare', raw: token.raw };
    default:
      return undefined;
  }
}

/** Parses one clause's tokens (no top-level AND in them); undefined when it is not a comparison at all. */
function parseClause(text: string, tokens: Token[]): FilterClause | undefined {
  const [lhs, ...rest] = tokens;
  if (!lhs || rest.length === 0) return undefined;
  // The comparator: an operator, LIKE, ILIKE, IN, or NOT followed by a keyword.
  const first = rest[0] as Token;
  let comparator: string;
  let valueAt: number;
  if (first.kind === 'op') {
    comparator = first.raw;
    valueAt = 1;
  } else if (isKeyword(first, 'NOT') && rest[1]?.kind === 'ident' && rest[1].segments.length === 1 && rest[1].segments[0]?.quote === '') {
    comparator = `NOT ${rest[1].raw.toUpperCase()}`;
    valueAt = 2;
  } else if (isKeyword(first, 'LIKE') || isKeyword(first, 'ILIKE') || isKeyword(first, 'IN')) {
    comparator = first.raw.toUpperCase();
    valueAt = 1;
  } else {
    return undefined;
  }
  const valueToken = rest[valueAt];
  if (!valueToken) return undefined;
  let value: Value | undefined;
  let next: number;
  if (valueToken.kind === 'punct' && valueToken.raw === '(') {
    const list = readList(text, rest, valueAt);
    if (!list) return undefined;
    value = list.value;
    next = list.next;
  } else {
    value = readValue(valueToken);
    next = valueAt + 1;
  }
  if (!value || next !== rest.length) return undefined;
  if (lhs.kind !== 'ident' && lhs.kind !== 'string') {
    throw new RunFilterError(`Invalid comparison clause. Expected 'Identifier' found '${lhs.raw}'`);
  }
  return toClause(resolveIdentifier(lhs, SEARCH_ATTRIBUTE_KEYS), comparator, value);
}

const sourceOf = (text: string, tokens: Token[]): string => text.slice((tokens[0] as Token).start, (tokens.at(-1) as Token).end);

/** What to name in "Invalid clause(s)": an OR between comparisons (MLflow has no OR), else the whole clause. */
function invalidParts(text: string, group: Token[]): string[] {
  const ors = group.filter((t) => isKeyword(t, 'OR'));
  if (ors.length === 0) return [sourceOf(text, group)];
  const parts: Token[][] = [[]];
  for (const token of group) {
    if (isKeyword(token, 'OR')) parts.push([]);
    else (parts.at(-1) as Token[]).push(token);
  }
  const out: string[] = [];
  parts.forEach((part, i) => {
    if (part.length === 0 || !parseClause(text, part)) out.push(part.length === 0 ? '' : sourceOf(text, part));
    if (i < ors.length) out.push('OR');
  });
  return out.filter((p) => p !== '');
}

/**
 * Parses a search_runs filter: comparisons joined by AND. An empty or blank filter is [] (every
 * run matches). Throws RunFilterError with MLflow's message for anything else.
 */
export function parseRunFilter(filter: string | undefined | null): FilterClause[] {
  if (filter == null || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const semicolon = tokens.findIndex((t) => t.kind === 'semicolon');
  if (semicolon >= 0 && tokens.slice(semicolon + 1).some((t) => t.kind !== 'semicolon')) {
    throw new RunFilterError(`Search filter contained multiple expression '${filter}'. Provide AND-ed expression list.`);
  }
  const body = semicolon >= 0 ? tokens.slice(0, semicolon) : tokens;
  // Split on top-level AND; parentheses only occur inside IN lists.
  const groups: Token[][] = [[]];
  let depth = 0;
  for (const token of body) {
    if (token.kind === 'punct' && token.raw === '(') depth++;
    if (token.kind === 'punct' && token.raw === ')') depth--;
    if (depth === 0 && isKeyword(token, 'AND')) groups.push([]);
    else (groups.at(-1) as Token[]).push(token);
  }
  const invalid: string[] = [];
  const clauses: FilterClause[] = [];
  for (const group of groups) {
    if (group.length === 0) {
      invalid.push('AND');
      continue;
    }
    const clause = parseClause(filter, group);
    if (clause) clauses.push(clause);
    else invalid.push(...invalidParts(filter, group));
  }
  if (invalid.length > 0) {
    throw new RunFilterError(`Invalid clause(s) in filter string: ${invalid.map((c) => `'${c}'`).join(', ')}`);
  }
  return clauses;
}

// ---- order_by ----------------------------------------------------------------------------------

function parseOrderByItem(item: string): OrderByKey {
  const couldNotParse = () => new RunFilterError(`Invalid order_by clause '${item}'. Could not be parsed.`);
  const tokens = tokenize(item);
  const [head, direction, ...extra] = tokens;
  if (!head || extra.length > 0 || (head.kind !== 'ident' && head.kind !== 'string')) throw couldNotParse();
  let ascending = true;
  if (direction) {
    if (isKeyword(direction, 'ASC')) ascending = true;
    else if (isKeyword(direction, 'DESC')) ascending = false;
    else throw couldNotParse();
  }
  const id = resolveIdentifier(head, ORDER_ATTRIBUTE_KEYS);
  if (id.type === 'dataset') throw new RunFilterError(`Invalid identifier type 'dataset' in order_by clause '${item}'`);
  if (id.type === 'attribute') return { type: 'attribute', key: id.key as OrderAttribute, ascending };
  return { type: id.type, key: id.key, ascending };
}

/** Parses search_runs' order_by list: `<identifier> [ASC|DESC]` each, the first being the primary key. */
export function parseOrderBy(orderBy: readonly string[] | undefined | null): OrderByKey[] {
  const keys = (orderBy ?? []).map(parseOrderByItem);
  const seen = new Set<string>();
  for (const key of keys) {
    const id = `${key.type}.${key.key}`;
    if (seen.has(id)) throw new RunFilterError(`\`order_by\` contains duplicate fields: [${(orderBy ?? []).map((o) => `'${o}'`).join(', ')}]`);
    seen.add(id);
  }
  return keys;
}
