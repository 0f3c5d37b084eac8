import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createPipelineActivities } from '../../activities/pipelines';
import { buildApp } from '../../api/app';
import { pipelineDigest } from '../../api/v1/pipelines';
import { MlfleetApi } from '../../cli/api-client';
import { uploadCode } from '../../cli/code-upload';
import { PipelineSpec } from '../../domain/pipeline-spec';
import { fileUriOf } from '../../storage/file-store';
import { createPool } from '../../store/pool';
import { uniqueId } from '../helpers/launches';
import { testEnv } from '../helpers/services';

let pool: pg.Pool;
let connection: Connection;
let app: FastifyInstance;
let baseUrl: string;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(testEnv().dataDir, 'pipelines-'));
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'pipelines-test', artifactRoot: fileUriOf(join(scratch, 'artifacts')) });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const specFor = (experiment: string, command = 'echo hi') => ({ experiment, stages: { only: { command, params: { n: 1 } } } });

test('register: version 1, the same again is the same version (200), a changed spec is version 2', async () => {
  const name = uniqueId('reg');
  const first = await call('POST', '/api/v1/pipelines', { spec: specFor(name) });
  expect(first).toEqual({
    status: 201,
    json: { name, version: 1, digest: pipelineDigest(PipelineSpec.parse(specFor(name)), undefined), created_at: expect.any(Number) as number },
  });
  expect(first.json.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  const again = await call('POST', '/api/v1/pipelines', { spec: specFor(name) });
  expect(again).toEqual({ status: 200, json: first.json });
  const changed = await call('POST', '/api/v1/pipelines', { spec: specFor(name, 'echo changed') });
  expect(changed.status).toBe(201);
  expect(changed.json).toMatchObject({ name, version: 2 });
  expect(changed.json.digest).not.toBe(first.json.digest);

  // Get one version, list all versions of the name (newest first), and the latest per name.
  const got = await call('GET', `/api/v1/pipelines/${name}/versions/1`);
  expect(got).toEqual({ status: 200, json: { ...first.json, spec: specFor(name) } });
  const versions = await call('GET', `/api/v1/pipelines?name=${name}`);
  expect((versions.json.pipelines as { version: number }[]).map((p) => p.version)).toEqual([2, 1]);
  const latest = await call('GET', '/api/v1/pipelines');
  const mine = (latest.json.pipelines as { name: string; version: number }[]).filter((p) => p.name === name);
  expect(mine).toEqual([{ ...changed.json }]);
  expect(await call('GET', `/api/v1/pipelines?name=${uniqueId('none')}`)).toEqual({ status: 200, json: { pipelines: [] } });
});

test('an explicit name, and code: the same spec with other code is another version', async () => {
  const name = uniqueId('with-code');
  const dir = join(scratch, uniqueId('code'));
  mkdirSync(dir);
  writeFileSync(join(dir, 'train.py'), `print(${Date.now()})\n`);
  const api = new MlfleetApi(baseUrl);
  const { bundle } = await uploadCode(api, dir);
  const spec = specFor('some experiment with spaces');
  const withCode = await api.registerPipeline({ name, spec, code: { bundle } });
  expect(withCode).toMatchObject({ name, version: 1, digest: pipelineDigest(PipelineSpec.parse(spec), bundle) });
  const withoutCode = await api.registerPipeline({ name, spec });
  expect(withoutCode.version).toBe(2);
  const got = await api.getPipelineVersion(name, 1);
  expect(got.code_bundle).toBe(bundle);
  expect(got.spec).toEqual(spec);
  expect((await api.getPipelineVersion(name, 2)).code_bundle).toBeUndefined();
  expect(await api.listPipelines(name)).toEqual([
    { name, version: 2, digest: withoutCode.digest, created_at: withoutCode.created_at },
    { name, version: 1, digest: withCode.digest, code_bundle: bundle, created_at: withCode.created_at },
  ]);

  // The activity the launch workflow resolves `name@version` with.
  const activities = createPipelineActivities({ pool });
  // The expected failure below would log a WARN; keep the output clean.
  const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  const resolve = (ref: string) => env.run((input: { ref: string }) => activities.resolvePipeline(input), { ref });
  expect(await resolve(`${name}@1`)).toEqual({ spec, codeBundle: bundle, digest: withCode.digest });
  expect(await resolve(`${name}@2`)).toEqual({ spec, digest: withoutCode.digest });
  await expect(resolve(`${name}@3`)).rejects.toMatchObject({
    message: `unknown pipeline version '${name}@3'`,
    type: 'UnknownPipeline',
    nonRetryable: true,
  });
});

test('five different specs registered at once under one name get versions 1..5', async () => {
  const name = uniqueId('concurrent');
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => call('POST', '/api/v1/pipelines', { name, spec: specFor('concurrent', `echo ${i}`) })));
  expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
  expect(results.map((r) => r.json.version).sort()).toEqual([1, 2, 3, 4, 5]);
  // And the five again, at once: each finds its own version.
  const again = await Promise.all([1, 2, 3, 4, 5].map((i) => call('POST', '/api/v1/pipelines', { name, spec: specFor('concurrent', `echo ${i}`) })));
  expect(again.map((r) => [r.status, r.json.version])).toEqual(results.map((r) => [200, r.json.version]));
});

test('bad bodies are 400 with every problem, and nothing is registered', async () => {
  const name = uniqueId('bad');
  const rejected = async (body: unknown): Promise<unknown> => {
    const { status, json } = await call('POST', '/api/v1/pipelines', body);
    expect({ status, error_code: json.error_code }).toEqual({ status: 400, error_code: 'INVALID_PARAMETER_VALUE' });
    return json.message;
  };
  expect(await rejected({})).toBe('spec: required (expected an object)');
  expect(await rejected({ name, spec: specFor(name), extra: 1 })).toBe("body: unknown field 'extra'");
  expect(await rejected({ name: '1bad', spec: specFor(name) })).toBe(
    'name: expected a pipeline name: a letter or _, then up to 127 letters, digits, _, . or -',
  );
  expect(await rejected({ name: 'a@1', spec: specFor(name) })).toBe('name: expected a pipeline name: a letter or _, then up to 127 letters, digits, _, . or -');
  expect(await rejected({ spec: specFor('has spaces') })).toBe(
    "name: required, because the experiment name 'has spaces' is not a valid pipeline name (a letter or _, then up to 127 letters, digits, _, . or -)",
  );
  expect(await rejected({ name, spec: { experiment: name, stages: { a: { comand: 'x' } } } })).toBe(
    "spec.stages.a: unknown field 'comand'\nspec.stages.a.command: required (expected a string)",
  );
  expect(await rejected({ name, spec: specFor(name), code: { dir: '/tmp' } })).toBe("code: unknown field 'dir'\ncode.bundle: required (expected a string)");
  expect(await rejected({ name, spec: specFor(name), code: { bundle: 'sha256:abc' } })).toBe('code.bundle: expected sha256:<64 hex digits>');
  const unknown = `sha256:${'f'.repeat(64)}`;
  expect(await rejected({ name, spec: specFor(name), code: { bundle: unknown } })).toBe(
    `code.bundle: unknown code bundle '${unknown}'; upload it first (POST /api/v1/code-bundles)`,
  );
  expect(await call('GET', `/api/v1/pipelines?name=${name}`)).toEqual({ status: 200, json: { pipelines: [] } });
});

test('unknown and malformed versions', async () => {
  const name = uniqueId('get');
  expect(await call('GET', `/api/v1/pipelines/${name}/versions/1`)).toEqual({
    status: 404,
    json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Pipeline version '${name}@1' not found` },
  });
  expect((await call('GET', `/api/v1/pipelines/${name}/versions/0`)).json).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: 'version: expected a version number (1, 2, …)',
  });
  expect((await call('GET', '/api/v1/pipelines/9x/versions/1')).json.message).toBe(
    'name: expected a pipeline name: a letter or _, then up to 127 letters, digits, _, . or -',
  );
  expect((await call('GET', '/api/v1/pipelines?nam=x')).json.message).toBe("query: unknown field 'nam'");
});
