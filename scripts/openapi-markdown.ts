// Writes docs/http-api.md from the OpenAPI document the API serves at GET /api/v1/openapi.json, so
// the reference cannot drift from the zod schemas that validate requests.
// `npm run docs:api` (`npx tsx scripts/openapi-markdown.ts`); test/unit/docs.test.ts fails when the
// committed page differs from what this prints.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { buildApp } from '../api/app';
import { buildOpenApiDocument, OPENAPI_PATH, type OpenApiDocument } from '../api/openapi';
import { v1Routes } from '../api/v1/route';

export const HTTP_API_PAGE = join(__dirname, '..', 'docs', 'http-api.md');

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

/**
 * The document the server serves at GET /api/v1/openapi.json, without a server: an app is built
 * (every route registers itself in `v1Routes`) but never listens, and its database pool and
 * Temporal client are placeholders that route registration does not touch.
 */
export async function openApiDocument(): Promise<OpenApiDocument> {
  const pool = new pg.Pool({ connectionString: 'postgres://docs@127.0.0.1:1/unused', max: 1 });
  const app = buildApp({ pool, temporal: {} as Client, taskQueue: 'mlfleet', artifactRoot: 'file:///nonexistent/artifacts' });
  try {
    await app.ready(); // routes registered inside plugins are added only now
    // What the document's route itself answers with; JSON round trip as a client would see it.
    return JSON.parse(JSON.stringify(buildOpenApiDocument(v1Routes))) as OpenApiDocument;
  } finally {
    await app.close();
    await pool.end();
  }
}

/** The Markdown reference of `document`: one section per tag, one per operation, with field tables. */
export function renderHttpApiMarkdown(document: OpenApiDocument): string {
  return new PageRenderer(document).render();
}

interface TaggedOperation {
  method: string;
  path: string;
  tag: string;
  operation: Operation;
}

interface SharedSchema {
  name: string;
  anchor: string;
  schema: Schema;
  /** Met first in an answer rather than a request. */
  answered: boolean;
}

/** Where a table is being written: inside which shared schema's description, and in a request or an answer. */
interface Context {
  within?: Schema;
  answered: boolean;
}

interface Row {
  field: string;
  type: string;
  required: boolean;
  notes: string[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const TITLE = 'HTTP API reference: /api/v1';
/** An object schema with at least this many fields, met more than once, is described once in "Shared schemas". */
const SHARED_MIN_FIELDS = 8;
const MAX_DEPTH = 10;

/**
 * Renders the page. Headings get GitHub's anchors in page order (the same slugger numbers repeats),
 * and a large schema that occurs in several places is described once and linked.
 */
class PageRenderer {
  private readonly operations: TaggedOperation[];
  private readonly tags: string[];
  private readonly slugs = new Slugger();
  /** How often each object schema (by its JSON) occurs anywhere in the operations, nested ones included. */
  private readonly counts = new Map<string, number>();
  private readonly shared = new Map<string, SharedSchema>();
  private readonly sharedNames = new Set<string>();

  constructor(private readonly document: OpenApiDocument) {
    this.operations = operationsOf(document);
    this.tags = [...new Set(this.operations.map((op) => op.tag))];
    for (const { operation } of this.operations) for (const schema of schemasOf(operation)) this.count(schema);
  }

  render(): string {
    this.slugs.slug(TITLE);
    this.slugs.slug('Contents');
    const tagAnchors = new Map<string, string>();
    const opAnchors = new Map<TaggedOperation, string>();
    for (const tag of this.tags) {
      tagAnchors.set(tag, this.slugs.slug(tag));
      for (const op of this.operationsTagged(tag)) opAnchors.set(op, this.slugs.slug(`${op.method} ${op.path}`));
    }
    // Its heading precedes the schemas' own, which are named while the operations are written.
    const sharedAnchor = this.slugs.slug('Shared schemas');

    const sections: string[] = [];
    for (const tag of this.tags) {
      sections.push(`## ${tag}`, '');
      for (const op of this.operationsTagged(tag)) sections.push(...this.renderOperation(op), '');
    }
    // Shared schemas are named as they are met; describing one may meet more.
    const definitions: string[] = ['## Shared schemas', '', 'Schemas that several routes use, described once.', ''];
    const done = new Set<string>();
    for (let pending = this.pendingShared(done); pending.length > 0; pending = this.pendingShared(done)) {
      for (const [key, def] of pending) {
        done.add(key);
        definitions.push(`### ${def.name}`, '', ...this.fieldTable(def.schema, { within: def.schema, answered: def.answered }), '');
      }
    }
    const errorAnchor = this.slugs.slug('Error body');

    const contents: string[] = ['## Contents', ''];
    for (const tag of this.tags) {
      contents.push(`- [${tag}](#${tagAnchors.get(tag)})`);
      for (const op of this.operationsTagged(tag)) {
        contents.push(`  - [\`${op.method} ${op.path}\`](#${opAnchors.get(op)}): ${inline(op.operation.summary ?? '')}`);
      }
    }
    if (this.shared.size > 0) contents.push(`- [Shared schemas](#${sharedAnchor})`);
    contents.push(`- [Error body](#${errorAnchor})`, '');

    const lines = [
      `# ${TITLE}`,
      '',
      '<!-- Generated by `npm run docs:api` (scripts/openapi-markdown.ts) from the OpenAPI document. Do not edit by hand. -->',
      '',
      `${this.document.info.description} The same document, as JSON, is served at \`GET ${OPENAPI_PATH}\`.`,
      '',
      'With `MLFLEET_AUTH=on`, every route except the public ones needs HTTP Basic credentials or an',
      '`Authorization: Bearer` API token (see [access control](access-control.md)). A missing or wrong',
      'sign-in is 401 `UNAUTHENTICATED`, too little permission 403 `PERMISSION_DENIED`, and a resource',
      'you may not read answers 404 as if it did not exist. The MLflow REST routes are described in',
      '[mlflow.md](mlflow.md).',
      '',
      'A request that fails validation is a 400 `INVALID_PARAMETER_VALUE` whose message has one',
      '`<path>: <problem>` line per problem, and nothing is changed. Field paths below use `<key>` for',
      "a map's keys and `[]` for an array's items.",
      '',
      ...contents,
      ...sections,
      ...(this.shared.size > 0 ? definitions : []),
      '## Error body',
      '',
      'Every error, on every route:',
      '',
      ...this.fieldTable(this.document.components.schemas.Error ?? {}, { answered: true }),
    ];
    return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
  }

  private operationsTagged(tag: string): TaggedOperation[] {
    return this.operations.filter((op) => op.tag === tag);
  }

  private pendingShared(done: ReadonlySet<string>): [string, SharedSchema][] {
    return [...this.shared].filter(([key]) => !done.has(key));
  }

  private count(schema: Schema): void {
    if (objectVariants(schema).length > 0) {
      const key = JSON.stringify(schema);
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
    for (const child of childrenOf(schema)) this.count(child);
  }

  /**
   * The shared description `value` gets, if any: a large schema met more than once, except inside
   * the schema being described (`within`) when every one of its occurrences is inside that one.
   */
  private sharedOf(value: Schema, { within, answered }: Context, nameHint: string): SharedSchema | undefined {
    if (value === within || fieldCount(value) < SHARED_MIN_FIELDS) return undefined;
    const key = JSON.stringify(value);
    const total = this.counts.get(key) ?? 0;
    const outside = within === undefined ? total : total - (this.counts.get(JSON.stringify(within)) ?? 0) * occurrences(within, key);
    const existing = this.shared.get(key);
    if (existing) return existing;
    if (total < 2 || outside < 1) return undefined;
    // The same field often differs between request and answer (defaults filled in): say which.
    const candidates = [nameHint, `${nameHint} (${answered ? 'as answered' : 'as sent'})`];
    let name = candidates.find((candidate) => !this.sharedNames.has(candidate)) ?? nameHint;
    for (let i = 2; this.sharedNames.has(name); i += 1) name = `${nameHint} (${i})`;
    this.sharedNames.add(name);
    const def = { name, anchor: this.slugs.slug(name), schema: value, answered };
    this.shared.set(key, def);
    return def;
  }

  private renderOperation({ method, path, tag, operation }: TaggedOperation): string[] {
    const out = [`### \`${method} ${path}\``, '', sentence(operation.summary ?? ''), ''];
    if (operation.description) out.push(inline(operation.description), '');

    const parameters = operation.parameters ?? [];
    if (parameters.length > 0) {
      out.push('| parameter | in | type | required | notes |', '| --- | --- | --- | --- | --- |');
      for (const p of parameters) {
        const schema = p.schema ?? {};
        const description = p.description ?? (typeof schema.description === 'string' ? schema.description : '');
        const notes = [description, ...constraintsOf(schema).filter((note) => !description.includes(note))].filter((n) => n !== '');
        out.push(`| \`${p.name}\` | ${p.in} | ${cell(typeName(schema))} | ${p.required ? 'yes' : 'no'} | ${cell(notes.join('; '))} |`);
      }
      out.push('');
    }

    const body = operation.requestBody;
    const bodySchema = body?.content?.['application/json']?.schema;
    if (body && bodySchema) {
      out.push(...this.rootLines(`Request body (JSON${body.required ? '' : ', optional'})`, bodySchema, `${capitalize(singular(tag))} request`, false));
    }

    const responses = Object.entries(operation.responses ?? {});
    for (const [status, response] of responses.filter(([s]) => /^2\d\d$/.test(s))) {
      const schema = response.content?.['application/json']?.schema;
      const label = `Response ${status} ${response.description ?? ''}`.trim();
      if (!schema) {
        out.push(`${label}: no body.`, '');
      } else if (objectVariants(schema).length > 0 || isEmptyObject(schema)) {
        out.push(...this.rootLines(label, schema, `${capitalize(singular(tag))} response`, true));
      } else {
        const note = typeof schema.description === 'string' ? ` (${inline(schema.description)})` : '';
        out.push(`${label}: ${typeName(schema)}${note}.`, '');
      }
    }
    const errors = responses.filter(([status]) => !/^2\d\d$/.test(status) && status !== 'default');
    if (errors.length > 0) {
      out.push(`Errors: ${errors.map(([status, response]) => `${status} ${response.description ?? ''}`.trim()).join(', ')}, with the [error body](#error-body).`);
    }
    return out;
  }

  /** A body's description: a link to its shared description, or its table. */
  private rootLines(label: string, schema: Schema, nameHint: string, answered: boolean): string[] {
    if (isEmptyObject(schema)) return [`${label}: \`{}\`.`, ''];
    const shared = this.sharedOf(schema, { answered }, nameHint);
    if (shared) return [`${label}: see [${shared.name}](#${shared.anchor}).`, ''];
    return [`${label}:`, '', ...this.fieldTable(schema, { answered }), ''];
  }

  /** A table of every field of an object schema, nested fields as dotted paths. */
  private fieldTable(schema: Schema, ctx: Context): string[] {
    const rows: Row[] = [];
    this.collectRows(schema, '', rows, 0, ctx);
    if (rows.length === 0) return [cell(typeName(schema))];
    const out = ['| field | type | required | notes |', '| --- | --- | --- | --- |'];
    for (const row of rows) out.push(`| \`${row.field}\` | ${cell(row.type)} | ${row.required ? 'yes' : 'no'} | ${cell(row.notes.join('; '))} |`);
    return out;
  }

  private collectRows(schema: Schema, prefix: string, rows: Row[], depth: number, ctx: Context): void {
    if (depth > MAX_DEPTH) return;
    const variants = objectVariants(schema);
    if (variants.length > 1) {
      variants.forEach((variant, i) => {
        const before = rows.length;
        this.collectRows(variant, prefix, rows, depth + 1, ctx);
        for (const row of rows.slice(before)) row.notes.unshift(`variant ${i + 1} of ${variants.length}`);
      });
      return;
    }
    const object = variants[0];
    if (!object) return;
    const properties = isRecord(object.properties) ? object.properties : {};
    const required = new Set(Array.isArray(object.required) ? object.required : []);
    for (const [name, value] of Object.entries(properties)) {
      if (!isRecord(value)) continue;
      const field = prefix === '' ? name : `${prefix}.${name}`;
      const row: Row = { field, type: typeName(value), required: required.has(name), notes: notesOf(value) };
      rows.push(row);
      this.descend(value, field, name, row, rows, depth, ctx);
    }
    if (Object.keys(properties).length === 0 && isRecord(object.additionalProperties)) {
      const field = prefix === '' ? '<key>' : `${prefix}.<key>`;
      this.descend(object.additionalProperties, field, 'value', undefined, rows, depth, ctx);
    }
  }

  /** Rows for what a field holds (an object's fields, an array's items, a map's values), or a link to its shared description. */
  private descend(value: Schema, field: string, name: string, row: Row | undefined, rows: Row[], depth: number, ctx: Context): void {
    const link = (inner: Schema, suffix: string, hint = name): boolean => {
      const shared = this.sharedOf(inner, ctx, capitalize(hint));
      if (!shared) return false;
      if (row) row.notes.push(`${suffix}[${shared.name}](#${shared.anchor})`);
      return true;
    };
    if (objectVariants(value).length > 0) {
      if (!link(value, 'see ')) this.collectRows(value, field, rows, depth + 1, ctx);
    } else if (value.type === 'array' && isRecord(value.items) && objectVariants(value.items).length > 0) {
      if (!link(value.items, 'items: see ', singular(name))) this.collectRows(value.items, `${field}[]`, rows, depth + 1, ctx);
    } else if (isMap(value) && isRecord(value.additionalProperties) && objectVariants(value.additionalProperties).length > 0) {
      if (!link(value.additionalProperties, 'values: see ')) this.collectRows(value.additionalProperties, `${field}.<key>`, rows, depth + 1, ctx);
    }
  }
}

function operationsOf(document: OpenApiDocument): TaggedOperation[] {
  const result: TaggedOperation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (operation) result.push({ method: method.toUpperCase(), path, tag: operation.tags?.[0] ?? 'other', operation });
    }
  }
  return result;
}

/** The schemas of an operation's request body and success responses. */
function schemasOf(operation: Operation): Schema[] {
  const body = operation.requestBody?.content?.['application/json']?.schema;
  const responses = Object.entries(operation.responses ?? {})
    .filter(([status]) => /^2\d\d$/.test(status))
    .map(([, response]) => response.content?.['application/json']?.schema);
  return [body, ...responses].filter(isRecord);
}

function childrenOf(schema: Schema): Schema[] {
  const children: unknown[] = [
    ...Object.values(isRecord(schema.properties) ? schema.properties : {}),
    schema.additionalProperties,
    schema.items,
    ...(Array.isArray(schema.anyOf) ? (schema.anyOf as unknown[]) : []),
  ];
  return children.filter(isRecord);
}

/** How often the schema whose JSON is `key` occurs inside `schema` (itself excluded). */
function occurrences(schema: Schema, key: string): number {
  return childrenOf(schema).reduce((sum, child) => sum + (JSON.stringify(child) === key ? 1 : 0) + occurrences(child, key), 0);
}

/** How many rows the schema's fields take in a table, nested ones included. */
function fieldCount(schema: Schema): number {
  let rows = 0;
  for (const variant of objectVariants(schema)) {
    const properties = Object.values(isRecord(variant.properties) ? variant.properties : {}).filter(isRecord);
    for (const value of properties) rows += 1 + fieldCount(value.type === 'array' && isRecord(value.items) ? value.items : value);
    if (properties.length === 0 && isRecord(variant.additionalProperties)) rows += fieldCount(variant.additionalProperties);
  }
  return rows;
}

const isEmptyObject = (schema: Schema): boolean =>
  schema.type === 'object' && Object.keys(isRecord(schema.properties) ? schema.properties : {}).length === 0 && !isRecord(schema.additionalProperties);

const isMap = (schema: Schema): boolean => schema.type === 'object' && !isRecord(schema.properties) && isRecord(schema.additionalProperties);

/** The object schemas a schema is, or may be (`anyOf` of objects); none for anything else. */
function objectVariants(schema: Schema): Schema[] {
  if (schema.type === 'object' && isRecord(schema.properties)) return [schema];
  if (isMap(schema)) return objectVariants(schema.additionalProperties as Schema).length > 0 ? [schema] : [];
  if (Array.isArray(schema.anyOf)) return schema.anyOf.filter(isRecord).filter((s) => s.type === 'object' && isRecord(s.properties));
  return [];
}

/** A short type: `string`, `integer`, `"a" | "b"`, `string[]`, `map of string`, `object`. */
function typeName(schema: Schema): string {
  if (typeof schema.$ref === 'string') return schema.$ref.replace(/^#\/components\/schemas\//, '');
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (Array.isArray(schema.anyOf)) return [...new Set(schema.anyOf.filter(isRecord).map(typeName))].join(' | ');
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  switch (schema.type) {
    case 'array':
      return isRecord(schema.items) ? `${wrap(typeName(schema.items))}[]` : 'array';
    case 'object':
      return isMap(schema) ? `map of ${typeName(schema.additionalProperties as Schema)}` : 'object';
    case undefined:
      return 'any';
    default:
      return String(schema.type);
  }
}

const wrap = (type: string): string => (type.includes(' ') ? `(${type})` : type);

/** The description and the checks a value must pass. */
function notesOf(schema: Schema): string[] {
  const description = typeof schema.description === 'string' ? schema.description : '';
  return [description, ...constraintsOf(schema).filter((note) => !description.includes(note))].filter((n) => n !== '');
}

const SAFE = Number.MAX_SAFE_INTEGER;

function constraintsOf(schema: Schema): string[] {
  const notes: string[] = [];
  const num = (key: string): number | undefined => {
    const value = schema[key];
    return typeof value === 'number' ? value : undefined;
  };
  const bounded = (n: number | undefined): n is number => n !== undefined && Math.abs(n) < SAFE;
  const min = num('minimum');
  const max = num('maximum');
  if (bounded(min) && bounded(max)) notes.push(`${min} to ${max}`);
  else if (bounded(min)) notes.push(`at least ${min}`);
  else if (bounded(max)) notes.push(`at most ${max}`);
  const exclusiveMin = num('exclusiveMinimum');
  if (exclusiveMin !== undefined) notes.push(`above ${exclusiveMin}`);
  const minLength = num('minLength');
  const maxLength = num('maxLength');
  if (minLength !== undefined && maxLength !== undefined) notes.push(`${minLength} to ${maxLength} characters`);
  else if (maxLength !== undefined) notes.push(`at most ${maxLength} characters`);
  else if (minLength === 1) notes.push('not empty');
  else if (minLength !== undefined) notes.push(`at least ${minLength} characters`);
  const minItems = num('minItems');
  if (minItems !== undefined) notes.push(`at least ${minItems} item${minItems === 1 ? '' : 's'}`);
  if (typeof schema.pattern === 'string' && typeof schema.format !== 'string') notes.push(schema.pattern === '\\S' ? 'not blank' : `matches ${code(schema.pattern)}`);
  if (typeof schema.format === 'string') notes.push(`format ${schema.format}`);
  if (schema.default !== undefined) notes.push(`default ${code(JSON.stringify(schema.default))}`);
  return notes;
}

/** A code span that survives any backticks inside it. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/** Text for one table cell: pipes escaped, line breaks folded. */
const cell = (text: string): string => inline(text).replace(/\|/g, '\\|');

/** One line of prose: line breaks folded, and `<` / `>` outside code spans escaped so `<path>` is not read as HTML. */
function inline(text: string): string {
  const folded = text.replace(/\s*\n\s*/g, ' ').trim();
  return folded
    .split(/((`+).*?\2)/)
    .map((part, i) => (i % 3 === 0 ? part.replace(/</g, '&lt;').replace(/>/g, '&gt;') : i % 3 === 1 ? part : ''))
    .join('');
}

const sentence = (text: string): string => (text === '' || /[.!?]$/.test(text) ? text : `${inline(text)}.`);

const singular = (word: string): string => word.replace(/(ch|sh|x|ss)es$/, '$1').replace(/([^s])s$/, '$1');

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

const isRecord = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
export class Slugger {
  private readonly seen = new Map<string, number>();

  slug(heading: string): string {
    const base = githubSlug(heading);
    const count = this.seen.get(base);
    this.seen.set(base, (count ?? 0) + 1);
    return count === undefined ? base : `${base}-${count}`;
  }
}

/** The slug GitHub gives a heading's text (inline Markdown already reduced to its text). */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

async function main(): Promise<void> {
  const markdown = renderHttpApiMarkdown(await openApiDocument());
  writeFileSync(HTTP_API_PAGE, markdown);
  console.log(`wrote ${HTTP_API_PAGE} (${Buffer.byteLength(markdown)} bytes)`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
