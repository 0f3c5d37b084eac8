import { PUBLIC, SIGNED_IN } from '../../api/auth/access-rule';
import { validate } from '@readme/openapi-parser';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildApp } from '../../api/app';
import { buildOpenApiDocument } from '../../api/openapi';
import type { v1Routes } from '../../api/v1/route';
import { LaunchInput } from '../../domain/launch';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

let ctx: WorkflowTestContext;
let app: FastifyInstance;
let document: Document;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  app = buildApp({ pool: ctx.pool, temporal: ctx.client, taskQueue: 'openapi-test', artifactRoot: ctx.artifactRoot });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const response = await fetch(`${baseUrl}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  document = (await response.json()) as Document;
});

afterAll(async () => {
  await app.close();
  await ctx.close();
});

/** Runs a real OpenAPI 3.1 validator (structure, refs, path parameters, unique operation ids). */
async function expectValid(doc: unknown): Promise<void> {
  // The validator dereferences in place: give it a copy.
  const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0]);
  expect(result).toMatchObject({ valid: true, warnings: [] });
}

/** Method and path of every route the app has, from Fastify's own route tree. */
function appRoutes(instance: FastifyInstance): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of instance.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '')) routes.push({ method, path: stack.join('') });
  }
  return routes;
}

const openApiPath = (fastifyPath: string): string => fastifyPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

test('the document is valid OpenAPI 3.1', async () => {
  expect(document.openapi).toBe('3.1.0');
  await expectValid(document);
});

test('every /api/v1 route of the app is in the document with its method, and nothing else is', () => {
  const routes = appRoutes(app).filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'HEAD');
  // The parse found the routes this file knows of at least.
  expect(routes).toEqual(
    expect.arrayContaining([
      { method: 'POST', path: '/api/v1/launches' },
      { method: 'GET', path: '/api/v1/launches' },
      { method: 'GET', path: '/api/v1/launches/:id' },
      { method: 'POST', path: '/api/v1/launches/:id/cancel' },
      { method: 'GET', path: '/api/v1/openapi.json' },
    ]),
  );
  const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
  for (const route of routes) {
    // Also as a lookup, for a readable failure naming the route.
    const operation = document.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
    expect({ route, documented: operation !== undefined }).toEqual({ route, documented: true });
  }
});

test('the launch routes: body, parameters, header, success and error responses', () => {
  const launches = document.paths['/api/v1/launches'];
  const post = launches?.post;
  expect(post?.requestBody?.required).toBe(true);
  const body = post?.requestBody?.content['application/json']?.schema;
  // The request schema is LaunchInput's, as a client sends it.
  const { $schema: _dialect, ...launchInput } = z.toJSONSchema(LaunchInput, { io: 'input', unrepresentable: 'any' });
  expect(body).toEqual(launchInput);
  expect(Object.keys(body?.properties ?? {})).toEqual(['spec', 'pipeline', 'params', 'code', 'trigger', 'no_cache', 'refresh', 'from', 'reuse']);
  expect(post?.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
  expect(Object.keys(post?.responses ?? {})).toEqual(['201', '400', '401', '403', 'default']);
  expect(post?.responses['400']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
  expect(document.components.schemas.Error).toMatchObject({ type: 'object', required: ['error_code', 'message'] });

  const list = launches?.get;
  expect(list?.parameters?.map((p) => [p.name, p.in, p.required])).toEqual([
    ['experiment', 'query', false],
    ['status', 'query', false],
    ['limit', 'query', false],
    ['page_token', 'query', false],
  ]);
  expect(list?.parameters?.find((p) => p.name === 'limit')?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
  expect(list?.responses['200']?.content?.['application/json']?.schema).toMatchObject({
    type: 'object',
    properties: { launches: { type: 'array' }, next_page_token: { type: 'string' } },
    required: ['launches'],
  });

  const get = document.paths['/api/v1/launches/{id}']?.get;
  const waitDescription = 'wait up to this many seconds (1 to 60) for the launch to end; a launch that has ended answers at once';
  expect(get?.parameters).toEqual([
    { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } },
    { name: 'wait_seconds', in: 'query', required: false, description: waitDescription, schema: { type: 'integer', minimum: 1, maximum: 60, description: waitDescription } },
  ]);
  expect(Object.keys(get?.responses ?? {})).toEqual(['200', '400', '401', '403', '404', 'default']);
});

test('any route definition gives a valid document: recursive, shared, refined and unrepresentable schemas', async () => {
  interface Tree {
    name: string;
    children: Tree[];
  }
  const Tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), children: z.array(Tree) }));
  const Shared = z.object({ n: z.number() }).meta({ id: 'Shared' });
  const routes: (typeof v1Routes)[number][] = [
    {
      method: 'PUT',
      path: '/api/v1/trees/:owner/:name',
      summary: 'recursive body, two path params of which one is undeclared',
      params: z.object({ owner: z.string().min(1) }),
      body: Tree,
      response: z.object({ tree: Tree, when: z.date(), custom: z.custom<number>(() => true), big: z.bigint() }),
      errors: [404, 409],
      access: SIGNED_IN,
    },
    {
      method: 'POST',
      path: '/api/v1/things',
      summary: 'refinements, transforms, defaults and a shared schema',
      query: z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]),
      body: z
        .object({ at: z.string().transform((s) => new Date(s)), shared: Shared, n: z.number().default(1) })
        .refine((v) => v.n > 0, 'n must be positive'),
      status: 202,
      response: z.object({ shared: Shared, list: z.array(Shared) }),
      access: SIGNED_IN,
    },
    { method: 'DELETE', path: '/api/v1/things/:id', summary: 'no content', status: 204, response: z.undefined(), access: PUBLIC },
    {
      method: 'GET',
      path: '/api/v1/other',
      summary: 'a shared name with another schema',
      response: z.object({ s: z.object({ x: z.string() }).meta({ id: 'Shared' }) }),
      access: SIGNED_IN,
    },
  ];
  const doc = buildOpenApiDocument(routes);
  await expectValid(doc);
  expect(Object.keys(doc.paths)).toEqual(['/api/v1/trees/{owner}/{name}', '/api/v1/things', '/api/v1/things/{id}', '/api/v1/other']);
  // Shared as sent (body) and as answered (no extra fields) differ, and the other 'Shared' is another schema.
  expect(Object.keys(doc.components.schemas).sort()).toEqual([
    'Error',
    'Shared',
    'Shared_2',
    'Shared_3',
    'putTreesByOwnerByNameBody',
    'putTreesByOwnerByNameResponse_schema0',
  ]);
  expect(doc.components.schemas.Shared_3).toMatchObject({ properties: { x: { type: 'string' } } });
  expect(JSON.stringify(doc)).not.toContain('$defs');
  const tree = doc.paths['/api/v1/trees/{owner}/{name}']?.put as Operation;
  expect(tree.parameters?.map((p) => [p.name, p.schema])).toEqual([
    ['owner', { type: 'string', minLength: 1 }],
    ['name', { type: 'string' }],
  ]);
  expect(tree.requestBody?.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/putTreesByOwnerByNameBody' });
  expect(Object.keys(tree.responses)).toEqual(['200', '400', '401', '404', '409', 'default']);
  const things = doc.paths['/api/v1/things']?.post as Operation;
  expect(things.parameters).toEqual([expect.objectContaining({ name: 'query', in: 'query', style: 'form', explode: true })]);
  expect(Object.keys(things.responses)).toEqual(['202', '400', '401', 'default']);
  expect(doc.paths['/api/v1/things/{id}']?.delete).toMatchObject({ responses: { 204: { description: 'No Content' } } });
});
