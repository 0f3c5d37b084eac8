import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runJob } from '../../agent/run-job';
import { packCodeBundle } from '../../storage/code-bundle';
import { fileUriOf } from '../../storage/file-store';
import { UnsupportedUriError } from '../../storage/object-store';
import { createStorage, type Storage } from '../../storage/storage';
import { getOrCreateExperiment } from '../../store/experiments';
import { rawRequest, type RawReply } from '../helpers/http';
import { startMoto, type Moto } from '../helpers/moto';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// The S3 side of storage against moto's S3: the ObjectStore (code bundles, stage inputs, outputs and
// logs), the proxied artifact service on an s3:// artifact root, and run-level artifacts/list.

const BUCKET = 'mlfleet-test';
const ROOT = `s3://${BUCKET}/root`;
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

let moto: Moto;
let s3: S3Client;
let storage: Storage;
let ctx: WorkflowTestContext;
let baseUrl: string;
let scratch: string;

const send = (method: string, path: string, body?: Buffer | string): Promise<RawReply> =>
  rawRequest(baseUrl, method, path, body, body === undefined ? {} : { 'content-type': 'application/octet-stream' });
const list = (path: string) => send('GET', `${ARTIFACTS}?path=${encodeURIComponent(path)}`);

function expectError(res: RawReply, status: number, error_code: string, message: string): void {
  expect({ status: res.status, body: res.json() }).toEqual({ status, body: { error_code, message } });
}

/** Every key in the bucket under `prefix`. */
async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function objectText(key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await object.Body?.transformToString()) ?? '';
}

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBucket(BUCKET);
  s3 = moto.client();
  storage = createStorage({ s3Client: s3 });
  ctx = await createWorkflowTestContext();
  baseUrl = await ctx.startApi('s3-artifacts-test', { artifactRoot: ROOT, storage });
  scratch = mkdtempSync(join(ctx.dataDir, 's3-'));
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  s3?.destroy();
  await moto?.stop();
});

describe('the S3 object store', () => {
  test('files and folders up and down, exists, and the scheme picks the store', async () => {
    const folder = join(scratch, 'folder');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'a.txt'), 'alpha');
    writeFileSync(join(folder, 'sub', 'b.bin'), randomBytes(70_000));
    const { objects } = storage;

    await objects.upload(folder, `${ROOT}/store/folder`);
    await objects.upload(join(folder, 'a.txt'), `${ROOT}/store/single%20name.txt`);
    expect(await keysUnder('root/store/')).toEqual(['root/store/folder/a.txt', 'root/store/folder/sub/b.bin', 'root/store/single name.txt']);
    for (const uri of ['store/folder', 'store/folder/', 'store/folder/sub/b.bin', 'store/single%20name.txt']) {
      expect(await objects.exists(`${ROOT}/${uri}`)).toBe(true);
    }
    for (const uri of ['store/fold', 'store/nope', 'store/folder/a']) expect(await objects.exists(`${ROOT}/${uri}`)).toBe(false);

    await objects.download(`${ROOT}/store/folder`, join(scratch, 'down'));
    expect(readFileSync(join(scratch, 'down', 'a.txt'), 'utf8')).toBe('alpha');
    expect(readFileSync(join(scratch, 'down', 'sub', 'b.bin')).equals(readFileSync(join(folder, 'sub', 'b.bin')))).toBe(true);
    await objects.download(`${ROOT}/store/single%20name.txt`, join(scratch, 'one.txt'));
    expect(readFileSync(join(scratch, 'one.txt'), 'utf8')).toBe('alpha');
    await expect(objects.download(`${ROOT}/store/nope`, join(scratch, 'nope'))).rejects.toThrow(`nothing stored at ${ROOT}/store/nope`);
    // Keys are any string: one that climbs out of the target folder is refused.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'root/evil/../../escaped.txt', Body: 'x' }));
    expect(await keysUnder('root/evil/')).toEqual(['root/evil/../../escaped.txt']);
    await expect(objects.download(`${ROOT}/evil`, join(scratch, 'evil', 'in'))).rejects.toThrow("'..' in the key");
    expect(existsSync(join(scratch, 'escaped.txt'))).toBe(false);

    // file:// still goes to the local disk through the same store.
    await objects.upload(join(folder, 'a.txt'), fileUriOf(join(scratch, 'local', 'a.txt')));
    expect(readFileSync(join(scratch, 'local', 'a.txt'), 'utf8')).toBe('alpha');
    await expect(objects.exists('gs://bucket/x')).rejects.toThrow(UnsupportedUriError);
  });

  test('code bundles and a stage job: s3:// bundle, file:// and s3:// inputs, outputs and logs to S3', async () => {
    const code = join(scratch, 'code');
    mkdirSync(code);
    writeFileSync(join(code, 'stage.sh'), 'mkdir -p "$2"; sort -n "$1"/n.txt > "$2/sorted.txt"; cat "$3"\n');
    const bundle = await packCodeBundle(code, ROOT, storage.objects, { useGit: false });
    expect(bundle.uri).toBe(`${ROOT}/code-bundles/${bundle.digest.replace(':', '-')}.tar.gz`);
    expect(await storage.objects.exists(bundle.uri)).toBe(true);

    const numbers = join(scratch, 'numbers');
    mkdirSync(numbers);
    writeFileSync(join(numbers, 'n.txt'), '3\n1\n2\n');
    await storage.objects.upload(numbers, `${ROOT}/upstream/numbers`);
    writeFileSync(join(scratch, 'greeting.txt'), 'hello from file://\n');
    const jobDir = join(scratch, 'job');
    mkdirSync(jobDir);
    const status = await runJob(
      jobDir,
      {
        command: 'sh stage.sh ${inputs.numbers} ${outputs.sorted} ${inputs.greeting}',
        params: {},
        codeBundleUri: bundle.uri,
        inputs: { numbers: { uri: `${ROOT}/upstream/numbers` }, greeting: { uri: fileUriOf(join(scratch, 'greeting.txt')) } },
        outputs: { sorted: 'out/' },
        outputsUri: `${ROOT}/1/run/artifacts/outputs`,
        logsUri: `${ROOT}/1/run/artifacts/logs`,
        env: {},
      },
      storage.objects,
    );
    expect(status).toMatchObject({ exit_code: 0, outputs: { sorted: `${ROOT}/1/run/artifacts/outputs/sorted/out` } });
    expect(await objectText('root/1/run/artifacts/outputs/sorted/out/sorted.txt')).toBe('1\n2\n3\n');
    expect(await objectText('root/1/run/artifacts/logs/stdout.log')).toBe('hello from file://\n');
  });
});

describe('the proxied artifact service on an s3:// root', () => {
  test('PUT, GET, list and DELETE with nested folders; the objects land under the root prefix', async () => {
    const data = randomBytes(300_000);
    expect((await send('PUT', `${ARTIFACTS}/7/r/artifacts/model/data/weights.bin`, data)).text).toBe('{}');
    await send('PUT', `${ARTIFACTS}/7/r/artifacts/model/MLmodel`, 'flavors: {}\n');
    await send('PUT', `${ARTIFACTS}/7/r/artifacts/notes%20one.txt`, 'hello');
    expect(await keysUnder('root/7/')).toEqual(['root/7/r/artifacts/model/MLmodel', 'root/7/r/artifacts/model/data/weights.bin', 'root/7/r/artifacts/notes one.txt']);

    const down = await send('GET', `${ARTIFACTS}/7/r/artifacts/model/data/weights.bin`);
    expect(down.status).toBe(200);
    expect(down.body.equals(data)).toBe(true);
    expect(down.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-length': String(data.length), 'content-disposition': 'attachment; filename=weights.bin' });
    expect((await send('GET', `${ARTIFACTS}/7/r/artifacts/model/MLmodel`)).headers['content-type']).toBe('text/plain');
    await send('PUT', `${ARTIFACTS}/7/r/artifacts/notes%20one.txt`, 'replaced');
    expect((await send('GET', `${ARTIFACTS}/7/r/artifacts/notes%20one.txt`)).text).toBe('replaced');

    expect((await list('7/r/artifacts')).text).toBe(
      JSON.stringify({
        files: [
          { path: 'model', is_dir: true },
          { path: 'notes one.txt', is_dir: false, file_size: 8 },
        ],
      }),
    );
    expect((await list('7/r/artifacts/model/')).json()).toEqual({
      files: [
        { path: 'MLmodel', is_dir: false, file_size: 12 },
        { path: 'data', is_dir: true },
      ],
    });
    for (const empty of ['7/r/artifacts/nope', '7/r/artifacts/notes one.txt']) expect((await list(empty)).text).toBe('{}');

    expect((await send('DELETE', `${ARTIFACTS}/7/r/artifacts/model`)).text).toBe('{}');
    expect((await send('DELETE', `${ARTIFACTS}/7/r/artifacts/model`)).status).toBe(200); // nothing there is fine
    expect(await keysUnder('root/7/')).toEqual(['root/7/r/artifacts/notes one.txt']);
    expectError(await send('GET', `${ARTIFACTS}/7/r/artifacts/model/MLmodel`), 404, 'RESOURCE_DOES_NOT_EXIST', "No such artifact: '7/r/artifacts/model/MLmodel'");
    expectError(await send('GET', `${ARTIFACTS}/7/r`), 400, 'INVALID_PARAMETER_VALUE', "Artifact path refers to a directory, not a file: '7/r'");
  });

  test('paths that leave the root, the whole store and code-bundles/ are "Invalid path"', async () => {
    await storage.objects.upload(join(scratch, 'greeting.txt'), `${ROOT}/code-bundles/sha256-x.tar.gz`);
    const before = await keysUnder('');
    for (const path of ['../escape.txt', '8/../../escape.txt', '%2e%2e/escape.txt', '%252e%252e/escape.txt', '%2Ftmp%2Fx', 'file:%2F%2F%2Ftmp%2Fx', '8/a%00b', 'code-bundles/sha256-x.tar.gz']) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        expectError(await send(method, `${ARTIFACTS}/${path}`, method === 'PUT' ? 'evil' : undefined), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      }
    }
    for (const path of ['', './']) {
      expectError(await send('PUT', `${ARTIFACTS}/${path}`, 'x'), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      expectError(await send('DELETE', `${ARTIFACTS}/${path}`), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    }
    for (const path of ['..', '../', '/etc', 'code-bundles']) expectError(await list(path), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    expect(await keysUnder('')).toEqual(before);
    // The root listing never shows mlfleet's folder.
    const root = (await send('GET', ARTIFACTS)).json<{ files: Array<{ path: string }> }>();
    expect(root.files.map((f) => f.path)).not.toContain('code-bundles');
    expect(root.files.map((f) => f.path)).toEqual(expect.arrayContaining(['1', 'store', 'upstream']));
  });

  test('artifacts/list of runs: mlflow-artifacts:/ runs on the s3:// root, and runs whose artifact URI is s3:// itself', async () => {
    const json = <T>(path: string, body: unknown): Promise<T> =>
      rawRequest(baseUrl, 'POST', `/api/2.0/mlflow/${path}`, JSON.stringify(body), { 'content-type': 'application/json' }).then((r) => r.json<T>());
    const createRun = (experiment_id: string) =>
      json<{ run: { info: { run_id: string; artifact_uri: string } } }>('runs/create', { experiment_id }).then((r) => r.run.info);

    const { experiment_id } = await json<{ experiment_id: string }>('experiments/create', { name: `s3-proxied-${randomBytes(6).toString('hex')}` });
    const proxied = await createRun(experiment_id);
    await send('PUT', `${ARTIFACTS}/${experiment_id}/${proxied.run_id}/artifacts/model/MLmodel`, 'flavors: {}\n');
    await send('PUT', `${ARTIFACTS}/${experiment_id}/${proxied.run_id}/artifacts/notes.txt`, 'hi');
    expect((await rawRequest(baseUrl, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${proxied.run_id}`)).json()).toEqual({
      root_uri: proxied.artifact_uri,
      files: [
        { path: 'model', is_dir: true },
        { path: 'notes.txt', is_dir: false, file_size: 2 },
      ],
    });
    expect((await rawRequest(baseUrl, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${proxied.run_id}&path=model`)).json()).toEqual({
      root_uri: proxied.artifact_uri,
      files: [{ path: 'model/MLmodel', is_dir: false, file_size: 12 }],
    });

    const direct = await getOrCreateExperiment(ctx.pool, `s3-direct-${randomBytes(6).toString('hex')}`, `s3://${BUCKET}/direct`);
    const run = await createRun(direct.experiment_id);
    expect(run.artifact_uri).toBe(`s3://${BUCKET}/direct/${direct.experiment_id}/${run.run_id}/artifacts`);
    await storage.objects.upload(join(scratch, 'greeting.txt'), `${run.artifact_uri}/outputs/greeting.txt`);
    expect((await rawRequest(baseUrl, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.run_id}&path=outputs`)).json()).toEqual({
      root_uri: run.artifact_uri,
      files: [{ path: 'outputs/greeting.txt', is_dir: false, file_size: 19 }],
    });
    expectError(await rawRequest(baseUrl, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.run_id}&path=..%2Fx`), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
  });
});
