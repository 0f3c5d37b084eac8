import type { ModelVersionComparison, ModelVersionOrder, ModelVersionOrderKey } from '../../store/model-versions-search';
import type { RegisteredModelComparison, RegisteredModelOrder, StringAttributeComparison, TagComparison } from '../../store/registered-models-search';
import { invalidValue } from './errors';
import { pyRepr } from './logged-models-filter';

// The request grammar of the registry's two searches (MLflow's SearchModelUtils and
// SearchModelVersionUtils, which read filters with sqlparse): an AND of `<identifier> <op> <value>`
// comparisons, order_by clauses, and MLflow's offset page tokens; with MLflow's message for each
// refusal. Where a stock server fails with an internal error, these answer INVALID_PARAMETER_VALUE.

/** Python's repr() of a tuple of strings and numbers. */
const pyTuple = (items: ReadonlyArray<string | number>): string =>
  `(${items.map((i) => (typeof i === 'string' ? pyRepr(i) : String(i))).join(', ')}${items.length === 1 ? ',' : ''})`;

/** Python's repr() of a set of strings (its order is Python's hash order, which varies; this is one of them). */
const pySet = (items: readonly string[]): string => `{${items.map((i) => pyRepr(i)).join(', ')}}`;

// ---- tokens ------------------------------------------------------------------------------------

type Token =
  | { kind: 'string'; text: string }
  | { kind: 'identifier'; text: string }
  | { kind: 'number'; text: string; integer: boolean }
  | { kind: 'op'; text: string }
  | { kind: 'keyword'; text: string }
  | { kind: 'list'; text: string }
  | { kind: 'other'; text: string };

const SEGMENT = String.raw`(?:\w+|` + '`[^`]*`' + String.raw`|"(?:""|[^"])*")`;
const LEXER = new RegExp(
  [
    String.raw`(?<space>\s+)`,
    String.raw`(?<string>'(?:''|\\.|[^'\\])*')`,
    String.raw`(?<list>\((?:'(?:''|\\.|[^'\\])*'|"(?:""|[^"])*"|[^()'"])*\))`,
    String.raw`(?<op>(?:NOT\s+)?(?:I?LIKE|RLIKE)\b|[<>=~!]+)`,
    String.raw`(?<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.]))`,
    String.raw`(?<identifier>${SEGMENT}(?:\.${SEGMENT})*)`,
    String.raw`(?<other>.)`,
  ].join('|'),
  'iys',
);

// Words sqlparse reads as keywords rather than as names; the others are identifiers.
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'BETWEEN', 'SELECT', 'FROM', 'WHERE', 'ORDER', 'BY', 'VERSION', 'TRUE', 'FALSE']);

function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  LEXER.lastIndex = 0;
  for (let match = LEXER.exec(statement); match?.groups; match = LEXER.exec(statement)) {
    const [kind, text] = Object.entries(match.groups).find(([, v]) => v !== undefined) as [string, string];
    if (kind === 'space') continue;
    if (kind === 'number') tokens.push({ kind, text, integer: /^-?\d+$/.test(text) });
    else if (kind === 'identifier' && KEYWORDS.has(text.toUpperCase())) tokens.push({ kind: 'keyword', text });
    else tokens.push({ kind, text } as Token);
  }
  return tokens;
}

// ---- filters -----------------------------------------------------------------------------------

interface Comparison {
  left: Token;
  comparator: string;
  right: Token;
}

/** Splits off the statements of a filter (outside quotes); MLflow reads exactly one. */
function statementsOf(filter: string): string[] {
  const statements: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const ch of filter) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
    } else if (ch === ';') {
      statements.push(`${current};`);
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim() !== '' || statements.length === 0) statements.push(current);
  return statements;
}

const isOperand = (t: Token | undefined): boolean => t !== undefined && ['string', 'identifier', 'number', 'list'].includes(t.kind);

/** Groups tokens into comparisons joined by AND, as sqlparse and MLflow's _process_statement do. */
function comparisonsOf(filter: string): Comparison[] {
  const statements = statementsOf(filter);
  if (statements.length > 1) {
    throw invalidValue(`Search filter contained multiple expression ${pyRepr(filter)}. Provide AND-ed expression list.`);
  }
  const tokens = tokenize(statements[0] ?? '');
  const comparisons: Comparison[] = [];
  const invalid: string[] = [];
  for (let i = 0; i < tokens.length; ) {
    const [a, b, c, d] = [tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3]] as Token[];
    const word = (t: Token | undefined, w: string) => t?.kind === 'keyword' && t.text.toUpperCase() === w;
    if (a?.kind === 'identifier' && word(b, 'IN') && c?.kind === 'list') {
      comparisons.push({ left: a, comparator: 'IN', right: c });
      i += 3;
    } else if (a?.kind === 'identifier' && word(b, 'NOT') && word(c, 'IN') && d?.kind === 'list') {
      comparisons.push({ left: a, comparator: 'NOT IN', right: d });
      i += 4;
    } else if (isOperand(a) && b?.kind === 'op' && isOperand(c)) {
      comparisons.push({ left: a as Token, comparator: b.text.toUpperCase(), right: c as Token });
      i += 3;
    } else {
      if (!word(a, 'AND')) invalid.push(a?.text ?? '');
      i += 1;
    }
  }
  if (invalid.length > 0) throw invalidValue(`Invalid clause(s) in filter string: ${invalid.join(', ')}`);
  for (const { left } of comparisons) {
    if (left.kind !== 'identifier') throw invalidValue(`Invalid comparison clause. Expected 'Identifier' found '${left.text}'`);
  }
  return comparisons;
}

const isQuoted = (value: string, quote: string): boolean => value.length >= 2 && value.startsWith(quote) && value.endsWith(quote);

/** MLflow's _strip_quotes: the text inside '…' or "…" (nothing unescaped); unquoted is an error when a value is expected. */
function stripQuotes(value: string, expectQuoted = false): string {
  if (isQuoted(value, "'") || isQuoted(value, '"')) return value.slice(1, -1);
  if (expectQuoted) {
    throw invalidValue(
      `Parameter value is either not quoted or unidentified quote types used for string value ${value}. Use either single or double quotes.`,
    );
  }
  return value;
}

const trimBackticks = (value: string): string => (isQuoted(value, '`') ? value.slice(1, -1) : value);

/** ast.literal_eval of a parenthesised list, which must hold strings only (MLflow's _parse_list_from_sql_token). */
function listOf(text: string): string[] {
  const inner = text.slice(1, -1).trim();
  const items: Array<string | number> = [];
  const ITEM = /\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))\s*(,|$)/y;
  let at = 0;
  while (at < inner.length) {
    ITEM.lastIndex = at;
    const match = ITEM.exec(inner);
    if (!match) {
      throw invalidValue('While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.');
    }
    const [, single, double, number] = match;
    items.push(number !== undefined ? Number(number) : (single ?? double ?? '').replace(/\\(.)/g, '$1'));
    at = ITEM.lastIndex;
  }
  if (items.length === 0 && inner !== '') throw invalidValue('While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.');
  if (items.length === 0) throw invalidValue('While parsing a list in the query, expected a non-empty list of string values, but got empty list');
  // `('a')` is a parenthesised string, not a tuple; MLflow makes it one, as this does.
  if (!items.every((i): i is string => typeof i === 'string')) {
    throw invalidValue(`While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ${pyTuple(items)}`);
  }
  return items;
}

/** What a search accepts: its attributes, those compared as numbers, and those taking a list. */
interface Grammar {
  attributes: readonly string[];
  numeric: readonly string[];
  lists: readonly string[];
  /** The message for a value that is neither a string nor (where allowed) a list or number. */
  badAttributeValue: (value: string) => string;
}

/** A comparison as MLflow's parser leaves it; a number keeps its text, and whether it is an integer. */
type Parsed = { type: 'attribute' | 'tag'; key: string; comparator: string; value: string | number | readonly string[]; number?: { text: string; integer: boolean } };

const ENTITY_TYPES = ['attribute', 'tag', 'tags'];

/** MLflow's _get_model_search_identifier / _get_model_version_search_identifier. */
function identifierOf(text: string, grammar: Grammar): { type: 'attribute' | 'tag'; key: string } {
  const dot = text.indexOf('.');
  let type: 'attribute' | 'tag' = 'attribute';
  let key = text;
  if (dot >= 0) {
    const entity = text.slice(0, dot);
    key = text.slice(dot + 1);
    if (!ENTITY_TYPES.includes(entity)) {
      throw invalidValue(`Invalid entity type '${entity}'. Valid entity types are ('attribute', 'tag', 'tags')`);
    }
    type = entity === 'attribute' ? 'attribute' : 'tag';
  }
  if (type === 'attribute' && !grammar.attributes.includes(key)) {
    throw invalidValue(`Invalid attribute key '${key}' specified. Valid keys are '${pySet(grammar.attributes)}'`);
  }
  return { type, key: trimBackticks(stripQuotes(key)) };
}

function parseComparison({ left, comparator, right }: Comparison, grammar: Grammar): Parsed {
  const { type, key } = identifierOf(left.text, grammar);
  const quoted = right.kind === 'string' || right.kind === 'identifier';
  if (type === 'tag') {
    if (!quoted) throw invalidValue(`Expected a quoted string value for tag (e.g. 'my-value'). Got value ${right.text}`);
    return { type, key, comparator, value: stripQuotes(right.text, true) };
  }
  if (quoted) return { type, key, comparator, value: stripQuotes(right.text, true) };
  if (right.kind === 'list') {
    if (!grammar.lists.includes(key)) {
      throw invalidValue(`Only [${grammar.lists.map((k) => pyRepr(k)).join(', ')}] attributes support comparison with a list of quoted string values.`);
    }
    return { type, key, comparator, value: listOf(right.text) };
  }
  if (right.kind === 'number' && grammar.numeric.length > 0) {
    if (!grammar.numeric.includes(key)) {
      throw invalidValue(`Only the '${pySet(grammar.numeric)}' attributes support comparison with numeric values.`);
    }
    return { type, key, comparator, value: Number(right.text), number: { text: right.text, integer: right.integer } };
  }
  throw invalidValue(grammar.badAttributeValue(right.text));
}

function parseFilter(filter: string | undefined, grammar: Grammar): Parsed[] {
  if (!filter) return [];
  return comparisonsOf(filter).map((c) => parseComparison(c, grammar));
}

const STRING_COMPARATORS = ['=', '!=', 'LIKE', 'ILIKE'] as const;
const NUMERIC_COMPARATORS = ['=', '!=', '<', '<=', '>', '>='] as const;
const isIn = <T extends string>(list: readonly T[], value: string): value is T => (list as readonly string[]).includes(value);

function tagComparison(p: Parsed): TagComparison {
  if (!isIn(STRING_COMPARATORS, p.comparator)) throw invalidValue(`Invalid comparator for tag: ${p.comparator}`);
  return { kind: 'tag', key: p.key, comparator: p.comparator, value: p.value as string };
}

/** A string attribute's comparison; a list goes with IN and NOT IN only. */
function stringAttribute<K extends string>(key: K, p: Parsed, lists: boolean): StringAttributeComparison<K> {
  const invalid = () => invalidValue(`Invalid comparator for attribute: ${p.comparator}`);
  if (Array.isArray(p.value)) {
    if (!lists || (p.comparator !== 'IN' && p.comparator !== 'NOT IN')) throw invalid();
    return { kind: 'attribute', key, comparator: p.comparator, values: p.value as readonly string[] };
  }
  if (!isIn(STRING_COMPARATORS, p.comparator)) throw invalid();
  return { kind: 'attribute', key, comparator: p.comparator, value: String(p.value) };
}

const REGISTERED_MODEL_GRAMMAR: Grammar = {
  attributes: ['name'],
  numeric: [],
  lists: ['name'],
  badAttributeValue: (value) => `Expected a quoted string value or a list of quoted string values for attributes. Got value ${value}`,
};

/** A registered-models/search filter: `name` (=, !=, LIKE, ILIKE, IN, NOT IN) and `tags.<key>`. */
export function parseRegisteredModelFilter(filter: string | undefined): RegisteredModelComparison[] {
  return parseFilter(filter, REGISTERED_MODEL_GRAMMAR).map((p) => (p.type === 'tag' ? tagComparison(p) : stringAttribute('name', p, true)));
}

const MODEL_VERSION_GRAMMAR: Grammar = {
  attributes: ['name', 'source_path', 'version_number', 'run_id'],
  numeric: ['creation_timestamp', 'version_number', 'last_updated_timestamp'],
  lists: ['name', 'run_id'],
  badAttributeValue: (value) => `Expected a quoted string value or a list of quoted string values for attributes. Got value ${value}`,
};

/** Python's int() of a str: digits with an optional sign, single underscores between digits, spaces around. */
const PYTHON_INT = /^\s*[-+]?\d+(?:_\d+)*\s*$/;

/** The canonical decimal digits of an integer string Python's int() accepts. */
const canonicalInteger = (text: string): string => BigInt(text.trim().replace(/_/g, '')).toString();

/** Python's repr() of a filter value (a str or a float). */
const valueRepr = (p: Parsed): string => {
  if (typeof p.value === 'string') return pyRepr(p.value);
  const n = p.value as number;
  return Number.isInteger(n) ? `${n}.0` : String(n);
};

/** A model-versions/search filter: name and run_id (with lists), source_path, version_number and `tags.<key>`. */
export function parseModelVersionFilter(filter: string | undefined): ModelVersionComparison[] {
  return parseFilter(filter, MODEL_VERSION_GRAMMAR).map((p): ModelVersionComparison => {
    if (p.type === 'tag') return tagComparison(p);
    if (p.key === 'version_number') {
      if (!isIn(NUMERIC_COMPARATORS, p.comparator)) throw invalidValue(`Invalid comparator for attribute version_number: ${p.comparator}`);
      const invalid = () => invalidValue(`Invalid value for numeric attribute 'version_number': ${valueRepr(p)}`);
      if (p.number) {
        if (!p.number.integer) throw invalid();
        return { kind: 'attribute', key: 'version_number', comparator: p.comparator, value: canonicalInteger(p.number.text) };
      }
      if (typeof p.value !== 'string' || !PYTHON_INT.test(p.value)) throw invalid();
      return { kind: 'attribute', key: 'version_number', comparator: p.comparator, value: canonicalInteger(p.value) };
    }
    if (p.key === 'source_path') {
      const c = stringAttribute('source_path', p, false);
      if ('values' in c) throw invalidValue(`Invalid comparator for attribute: ${p.comparator}`);
      return c;
    }
    return stringAttribute(p.key as 'name' | 'run_id', p, true);
  });
}

// ---- order_by ----------------------------------------------------------------------------------

/** MLflow's _parse_order_by_string: one identifier and an optional ASC or DESC, nothing around them. */
function orderByClause(clause: string): { key: string; ascending: boolean } {
  const unparsable = () => invalidValue(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  const match = new RegExp(`^(${SEGMENT}(?:\\.${SEGMENT})*)(?:\\s+(\\w+))?$`).exec(clause);
  if (!match) throw unparsable();
  const [, identifier = '', direction] = match;
  const isTimestamp = identifier.toLowerCase() === 'timestamp';
  if (KEYWORDS.has(identifier.toUpperCase()) || (isTimestamp && direction !== undefined && !/^(asc|desc)$/i.test(direction))) throw unparsable();
  // shlex.split with backticks read as double quotes: the quotes go, what they held stays.
  const key = (isTimestamp ? 'timestamp' : identifier).replace(/`([^`]*)`|"((?:""|[^"])*)"/g, (_m, b: string | undefined, d: string | undefined) => b ?? d ?? '');
  if (direction !== undefined && !/^(asc|desc)$/i.test(direction)) throw invalidValue(`Invalid ordering key in order_by clause '${clause}'.`);
  return { key: key.trim(), ascending: direction === undefined || direction.toLowerCase() === 'asc' };
}

const pyList = (items: readonly string[]): string => `[${items.map((i) => pyRepr(i)).join(', ')}]`;

const duplicateFields = (orderBy: readonly string[]) => invalidValue(`\`order_by\` contains duplicate fields: ${pyList(orderBy)}`);

/** registered-models/search's order_by: name, or timestamp / last_updated_timestamp (both the update time). */
export function parseRegisteredModelOrderBy(orderBy: readonly string[]): RegisteredModelOrder[] {
  const orders: RegisteredModelOrder[] = [];
  for (const clause of orderBy) {
    const { key, ascending } = orderByClause(clause);
    if (key !== 'name' && key !== 'timestamp' && key !== 'last_updated_timestamp') {
      throw invalidValue(`Invalid order by key '${key}' specified. Valid keys are '${pySet(['timestamp', 'name'])}'`);
    }
    const column = key === 'name' ? 'name' : 'last_updated_time';
    if (orders.some((o) => o.key === column)) throw duplicateFields(orderBy);
    orders.push({ key: column, ascending });
  }
  return orders;
}

const VERSION_ORDER_KEYS: Readonly<Record<string, ModelVersionOrderKey>> = {
  name: 'name',
  version_number: 'version',
  creation_timestamp: 'creation_time',
  last_updated_timestamp: 'last_updated_time',
};
const VERSION_ORDER_NAMES = ['creation_timestamp', 'name', 'version_number', 'last_updated_timestamp'];

/** model-versions/search's order_by: name, version_number, creation_timestamp, last_updated_timestamp. */
export function parseModelVersionOrderBy(orderBy: readonly string[]): ModelVersionOrder[] {
  const orders: ModelVersionOrder[] = [];
  for (const clause of orderBy) {
    const { key: identifier, ascending } = orderByClause(clause);
    const grammar: Grammar = { attributes: VERSION_ORDER_NAMES, numeric: [], lists: [], badAttributeValue: String };
    const { key } = identifierOf(identifier, grammar);
    const column = VERSION_ORDER_KEYS[key];
    if (column === undefined) throw invalidValue(`Invalid order by key '${key}' specified. Valid keys are ${pySet(VERSION_ORDER_NAMES)}`);
    if (orders.some((o) => o.key === column)) throw duplicateFields(orderBy);
    orders.push({ key: column, ascending });
  }
  return orders;
}

// ---- page tokens -------------------------------------------------------------------------------

/** MLflow's page token: base64 of `{"offset": <n>}` (json.dumps spacing), as its SQL registry writes it. */
export const encodeOffsetToken = (offset: number): string => Buffer.from(`{"offset": ${offset}}`).toString('base64');

/** Python's repr() of bytes. */
function bytesRepr(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `b${quote}${out}${quote}`;
}

/** Python's repr() of a parsed JSON value. */
function jsonRepr(value: unknown): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyRepr(value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(jsonRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyRepr(k)}: ${jsonRepr(v)}`)
    .join(', ')}}`;
}

/** Python's lenient base64.b64decode: characters outside the alphabet are skipped, the padding must fit. */
function base64Decode(token: string): Buffer | undefined {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(token)) return undefined;
  const cleaned = token.replace(/[^A-Za-z0-9+/=]/g, '');
  const firstPad = cleaned.indexOf('=');
  const data = firstPad < 0 ? cleaned : cleaned.slice(0, firstPad);
  const padding = firstPad < 0 ? 0 : cleaned.slice(firstPad).length;
  const rest = data.length % 4;
  if (rest === 1 || (rest === 2 && padding < 2) || (rest === 3 && padding < 1)) return undefined;
  return Buffer.from(data, 'base64');
}

/** The offset an MLflow page token holds (MLflow's parse_start_offset_from_page_token); 0 without a token. */
export function decodeOffsetToken(token: string | undefined): number {
  if (!token) return 0;
  const bytes = base64Decode(token);
  if (bytes === undefined) throw invalidValue('Invalid page token, could not base64-decode');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidValue(`Invalid page token, decoded value=${bytesRepr(bytes)}`);
  }
  const offset = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>).offset : undefined;
  // Python's `not offset`: absent, null, 0, '', false and empty containers all fail.
  const falsy = offset === undefined || offset === null || offset === 0 || offset === '' || offset === false || (typeof offset === 'object' && Object.keys(offset).length === 0);
  if (falsy) throw invalidValue(`Invalid page token, parsed value=${jsonRepr(parsed)}`);
  if (typeof offset === 'number') return Math.min(Math.trunc(offset), Number.MAX_SAFE_INTEGER);
  if (offset === true) return 1;
  if (typeof offset === 'string' && PYTHON_INT.test(offset)) return Math.min(Number(canonicalInteger(offset)), Number.MAX_SAFE_INTEGER);
  throw invalidValue(`Invalid page token, not stringable ${typeof offset === 'string' ? offset : jsonRepr(offset)}`);
}
