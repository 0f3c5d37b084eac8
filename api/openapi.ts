import { STATUS_CODES } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AccessRule, PUBLIC } from './auth/access-rule';
import { v1Route, v1Routes } from './v1/route';

type RouteDef = (typeof v1Routes)[number];
type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
  security: Record<string, string[]>[];
}

export const OPENAPI_PATH = '/api/v1/openapi.json';

/** Every error body, whatever the route (api/errors.ts). */
const ErrorBody = z.object({
  error_code: z.string().meta({ description: "MLflow's error code, e.g. INVALID_PARAMETER_VALUE or RESOURCE_DOES_NOT_EXIST" }),
  message: z.string().meta({ description: 'what went wrong; for a bad request, one `<path>: <problem>` line per problem' }),
});
const ERROR_REF = { $ref: '#/components/schemas/Error' };

// What this route answers with, described loosely: the document describes itself only so far.
const OpenApiDocumentSchema = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).loose(), paths: z.record(z.string(), z.unknown()) })
  .loose();

/**
 * Serves the OpenAPI 3.1 document of every route registered through `v1Route`. Register it after
 * the other /api/v1 routes; the document is built once, at the first request.
 */
export function registerOpenApiRoute(app: FastifyInstance): void {
  let document: OpenApiDocument | undefined;
  v1Route(
    app,
    { method: 'GET', path: OPENAPI_PATH, summary: 'This OpenAPI 3.1 document of /api/v1', response: OpenApiDocumentSchema, access: PUBLIC },
    () => {
      document ??= buildOpenApiDocument(v1Routes);
      return Promise.resolve(document);
    },
  );
}

/**
 * The OpenAPI 3.1 document of `routes`, from the same zod schemas that validate their requests:
 * request schemas as clients send them (`io: 'input'`), responses as the server sends them.
 */
export function buildOpenApiDocument(routes: readonly RouteDef[]): OpenApiDocument {
  const components = new Components();
  components.schemas.Error = components.take(jsonSchemaOf(ErrorBody, 'output'), 'Error');
  const paths: OpenApiDocument['paths'] = {};
  const operationIds = new Set<string>();
  for (const route of routes) {
    const operationId = uniqueName(operationIdOf(route), operationIds);
    operationIds.add(operationId);
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operationOf(route, operationId, components) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mlfleet API',
      version: 'v1',
      description: 'mlfleet /api/v1. Every error answers with the body `{"error_code", "message"}` and MLflow\'s status codes.',
    },
    paths,
    components: {
      schemas: components.schemas,
      // With MLFLEET_AUTH=on; MLflow clients send MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN.
      securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ basic: [] }, { bearer: [] }],
  };
}

/** Fastify's path syntax in OpenAPI's: `/launches/:id` → `/launches/{id}` (`::` is a literal colon). */
export function openApiPath(fastifyPath: string): string {
  return fastifyPath
    .split('::')
    .map((part) => part.replace(/:([A-Za-z0-9_]+)(\([^/]*\))?/g, '{$1}').replace(/\*$/, '{*}'))
    .join(':');
}

function pathParamNames(fastifyPath: string): string[] {
  return [...openApiPath(fastifyPath).matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
}

function operationOf(route: RouteDef, operationId: string, components: Components): Record<string, unknown> {
  const segments = route.path.split('/').filter((s) => s !== '');
  const tag = (segments[0] === 'api' && segments[1] === 'v1' ? segments[2] : segments[0])?.replace(/\..*$/, '');
  const operation: Record<string, unknown> = {
    operationId,
    summary: route.summary,
    description: accessDescription(route.access),
    ...(route.access.kind === 'public' && { security: [] }),
    ...(tag !== undefined && tag !== '' && !tag.startsWith(':') && { tags: [tag] }),
  };

  const parameters = [...pathParameters(route, operationId, components), ...queryParameters(route, operationId, components)];
  for (const [name, description] of Object.entries(route.headers ?? {})) {
    parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
  }
  if (parameters.length > 0) operation.parameters = parameters;

  if (route.body) {
    operation.requestBody = {
      // v1Route reads a missing body as {}: the body is optional exactly when {} is valid.
      required: !route.body.safeParse({}).success,
      content: { 'application/json': { schema: components.take(jsonSchemaOf(route.body, 'input'), `${operationId}Body`) } },
    };
  }

  const status = route.status ?? 200;
  const description = STATUS_CODES[status] ?? 'Success';
  const responses: Record<string, unknown> = {};
  if (status === 204) {
    responses[String(status)] = { description };
  } else {
    const schema = components.take(jsonSchemaOf(route.response, 'output'), `${operationId}Response`);
    responses[String(status)] = { description, content: { 'application/json': { schema } } };
  }
  const validates = route.body !== undefined || route.query !== undefined || route.params !== undefined;
  const denials = route.access.kind === 'public' ? [] : route.access.kind === 'signed-in' ? [401] : [401, 403];
  const errorStatuses = [...new Set([...(validates ? [400] : []), ...denials, ...(route.errors ?? [])])].sort((a, b) => a - b);
  for (const errorStatus of errorStatuses) responses[String(errorStatus)] = errorResponse(STATUS_CODES[errorStatus] ?? 'Error');
  responses.default = errorResponse('Any other error');
  operation.responses = responses;
  return operation;
}

/** Who may call the route, when the server runs with auth on. */
function accessDescription(access: AccessRule): string {
  switch (access.kind) {
    case 'public':
      return 'Access: anyone, signed in or not.';
    case 'signed-in':
      return 'Access: any signed-in user; lists show only what the caller may read.';
    case 'admin':
      return 'Access: admins.';
    case 'self-or-admin':
      return 'Access: the user named in the request, or an admin.';
    case 'experiment':
    case 'experiment-by-body':
      return `Access: ${access.need} on the experiment (admins pass); without READ the resource reads as missing.`;
    case 'registered-model':
      return `Access: ${access.need} on the registered model (admins pass); without READ it reads as missing.`;
    case 'by-request':
      return 'Access: as the resource the request names requires (admins pass).';
  }
}

const errorResponse = (description: string): Record<string, unknown> => ({ description, content: { 'application/json': { schema: ERROR_REF } } });

function pathParameters(route: RouteDef, operationId: string, components: Components): JsonSchema[] {
  const names = pathParamNames(route.path);
  const parts = route.params ? parameterSchemas(route.params, `${operationId}Params`, components) : undefined;
  return names.map((name) => {
    const schema = parts?.properties[name] ?? { type: 'string' };
    return { name, in: 'path', required: true, ...descriptionOf(schema), schema };
  });
}

function queryParameters(route: RouteDef, operationId: string, components: Components): JsonSchema[] {
  if (!route.query) return [];
  const parts = parameterSchemas(route.query, `${operationId}Query`, components);
  if (!parts) {
    // Not a plain object of fields: one form-style object parameter describes it whole.
    const schema = components.take(jsonSchemaOf(route.query, 'input'), `${operationId}Query`);
    return [{ name: 'query', in: 'query', style: 'form', explode: true, schema }];
  }
  return Object.entries(parts.properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: parts.required.has(name),
    ...descriptionOf(schema),
    schema,
  }));
}

/**
 * The fields of a query or path schema, one schema each. Values arrive as strings; where the schema
 * turns one into a number or boolean (`limit=10`), the parsed type says more than "a string", and
 * OpenAPI serialises both alike, so the field is documented by its output type.
 */
function parameterSchemas(
  schema: z.ZodType,
  name: string,
  components: Components,
): { properties: Record<string, JsonSchema>; required: Set<string> } | undefined {
  const input = components.take(jsonSchemaOf(schema, 'input'), name);
  if (input.type !== 'object' || !isRecord(input.properties)) return undefined;
  const output = jsonSchemaOf(schema, 'output');
  const outputProperties = isRecord(output.properties) ? output.properties : {};
  const properties: Record<string, JsonSchema> = {};
  for (const [key, value] of Object.entries(input.properties)) {
    const parsed = outputProperties[key];
    properties[key] = isRecord(value) && value.type === 'string' && isScalar(parsed) ? parsed : isRecord(value) ? value : {};
  }
  const required = new Set(Array.isArray(input.required) ? input.required.filter((k): k is string => typeof k === 'string') : []);
  return { properties, required };
}

const isScalar = (schema: unknown): schema is JsonSchema =>
  isRecord(schema) && typeof schema.type === 'string' && ['string', 'number', 'integer', 'boolean'].includes(schema.type);

const descriptionOf = (schema: JsonSchema): { description?: string } =>
  typeof schema.description === 'string' ? { description: schema.description } : {};

/** zod's JSON Schema (draft 2020-12, OpenAPI 3.1's dialect); parts it cannot represent become `{}`. */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  } catch {
    // A schema zod cannot describe at all (a cycle it rejects, say) documents as "anything".
    return {};
  }
}

/**
 * components.schemas, fed by the generated schemas: their `$defs` (schemas with an `id` in zod's
 * registry, recursive parts) move here, since a `#/$defs/…` ref would resolve against the document.
 */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};
  private readonly sources = new Map<string, string>();

  /** The schema ready to embed: `$schema` dropped, its `$defs` and root self-references made components. */
  take(generated: JsonSchema, hint: string): JsonSchema {
    const { $schema: _dialect, $defs, ...schema } = generated;
    const defs = Object.entries(isRecord($defs) ? $defs : {});
    const renames = new Map<string, string>();
    const added: [string, unknown][] = [];
    for (const [name, def] of defs) {
      const source = JSON.stringify(def);
      // Ids are shared names (the same schema from several routes); zod's own __schemaN names are not.
      const base = sanitize(name.startsWith('__') ? `${hint}_${name.replace(/^_+/, '')}` : name);
      const reused = !name.startsWith('__') && this.sources.get(base) === source;
      const target = reused ? base : uniqueName(base, new Set(Object.keys(this.schemas)));
      renames.set(name, target);
      if (!reused) {
        this.schemas[target] = {}; // reserves the name; filled below, once every rename is known
        this.sources.set(target, source);
        added.push([target, def]);
      }
    }
    // A recursive root refers to itself as `#`: it becomes a component too.
    const selfName = containsRef(schema, '#') ? uniqueName(sanitize(hint), new Set(Object.keys(this.schemas))) : undefined;
    const rewrite = (value: unknown): unknown => rewriteRefs(value, renames, selfName);
    for (const [target, def] of added) this.schemas[target] = rewrite(def) as JsonSchema;
    const result = rewrite(schema) as JsonSchema;
    if (selfName === undefined) return result;
    this.schemas[selfName] = result;
    return { $ref: componentRef(selfName) };
  }
}

const componentRef = (name: string): string => `#/components/schemas/${name}`;

function rewriteRefs(value: unknown, renames: ReadonlyMap<string, string>, selfName: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, renames, selfName));
  if (!isRecord(value)) return value;
  const out: JsonSchema = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '$ref' && typeof item === 'string') {
      out[key] = rewriteRef(item, renames, selfName);
    } else {
      out[key] = rewriteRefs(item, renames, selfName);
    }
  }
  return out;
}

function rewriteRef(ref: string, renames: ReadonlyMap<string, string>, selfName: string | undefined): string {
  if (ref === '#' && selfName !== undefined) return componentRef(selfName);
  const match = /^#\/\$defs\/([^/]+)(\/.*)?$/.exec(ref);
  const target = match?.[1] === undefined ? undefined : renames.get(match[1].replace(/~1/g, '/').replace(/~0/g, '~'));
  return target === undefined ? ref : `${componentRef(target)}${match?.[2] ?? ''}`;
}

function containsRef(value: unknown, ref: string): boolean {
  if (Array.isArray(value)) return value.some((item) => containsRef(item, ref));
  if (!isRecord(value)) return false;
  return Object.entries(value).some(([key, item]) => (key === '$ref' && item === ref) || containsRef(item, ref));
}

/** `post` + the path after /api/v1 in camel case: `POST /api/v1/launches/:id/cancel` → `postLaunchesByIdCancel`. */
function operationIdOf(route: RouteDef): string {
  const words = route.path
    .replace(/^\/api\/v1(?=\/|$)/, '')
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => (segment.startsWith(':') ? `By_${segment.slice(1)}` : segment))
    .flatMap((segment) => segment.split(/[^A-Za-z0-9]+/))
    .filter((word) => word !== '');
  return route.method.toLowerCase() + words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
}

const sanitize = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, '_') || 'Schema';

function uniqueName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i += 1) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
