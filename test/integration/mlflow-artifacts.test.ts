import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { filePathOf } from '../../storage/file-store';
import { rawRequest, type RawReply as Reply } from '../helpers/http';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

let ctx: WorkflowTestContext;
let baseUrl: string;
let root: string;

const send = (method: string, path: string, body?: Buffer | string, headers: Record<string, string | number> = {}): Promise<Reply> =>
  rawRequest(baseUrl, method, path, body, headers);

const put = (path: string, body: Buffer | string, contentType = 'application/octet-stream') =>
  send('PUT', `${ARTIFACTS}/${path}`, body, { 'content-type': contentType });
const list = (path?: string) => send('GET', path === undefined ? ARTIFACTS : `${ARTIFACTS}?path=${encodeURIComponent(path)}`);

function expectError(res: Reply, status: number, error_code: string, message: string): void {
  expect({ status: res.status, body: res.json() }).toEqual({ status, body: { error_code, message } });
}

/** Every file under `dir`, relative, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  baseUrl = await ctx.startApi('mlflow-artifacts-test');
  root = filePathOf(ctx.artifactRoot);
});

afterAll(async () => {
  await ctx.close();
});

describe('proxied artifacts (mlflow-artifacts)', () => {
  test('binary upload and download round trip, nested folders, content types and headers', async () => {
    const data = randomBytes(256 * 1024 + 17);
    const up = await put('1/abc/artifacts/model/data/weights.bin', data);
    expect({ status: up.status, body: up.text }).toEqual({ status: 200, body: '{}' });
    expect(readFileSync(join(root, '1/abc/artifacts/model/data/weights.bin')).equals(data)).toBe(true);

    const down = await send('GET', `${ARTIFACTS}/1/abc/artifacts/model/data/weights.bin`);
    expect(down.status).toBe(200);
    expect(down.body.equals(data)).toBe(true);
    expect(down.headers['content-type']).toBe('application/octet-stream');
    expect(down.headers['content-disposition']).toBe('attachment; filename=weights.bin');
    expect(down.headers['x-content-type-options']).toBe('nosniff');

    // Content-Type from the name (MLflow's text extensions, then mimetypes), never from the upload.
    await put('1/abc/artifacts/model/MLmodel', 'flavors: {}\n', 'application/octet-stream');
    await put('1/abc/artifacts/metrics.json', '{"a": 1}', 'text/html');
    await put('1/abc/artifacts/plot.png', Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png');
    const types: Record<string, string> = { 'model/MLmodel': 'text/plain', 'metrics.json': 'text/plain', 'plot.png': 'image/png' };
    for (const [path, type] of Object.entries(types)) {
      expect((await send('GET', `${ARTIFACTS}/1/abc/artifacts/${path}`)).headers['content-type']).toBe(type);
    }
    // The same service under the UI prefix.
    const ajax = await send('GET', `/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/metrics.json`);
    expect({ status: ajax.status, text: ajax.text }).toEqual({ status: 200, text: '{"a": 1}' });
  });

  test('uploads above the JSON body limit and without a content type; overwrite replaces', async () => {
    const big = randomBytes(20 * 1024 * 1024);
    expect((await put('2/big/artifacts/big.bin', big)).status).toBe(200);
    const down = await send('GET', `${ARTIFACTS}/2/big/artifacts/big.bin`);
    expect(down.body.equals(big)).toBe(true);

    const plain = await send('PUT', `${ARTIFACTS}/2/big/artifacts/notype`, 'no content type');
    expect(plain.status).toBe(200);
    const empty = await send('PUT', `${ARTIFACTS}/2/big/artifacts/empty.txt`);
    expect(empty.status).toBe(200);
    expect(readFileSync(join(root, '2/big/artifacts/empty.txt')).length).toBe(0);

    await put('2/big/artifacts/notype', 'second');
    expect((await send('GET', `${ARTIFACTS}/2/big/artifacts/notype`)).text).toBe('second');
    // No temp files are left behind.
    expect(filesUnder(join(root, '2')).filter((f) => f.includes('.artifact.uploading.'))).toEqual([]);
  });

  test('listing: MLflow JSON (basenames relative to the listed folder, sorted, no size for folders), {} when empty', async () => {
    await put('3/run/artifacts/b.txt', 'hello');
    await put('3/run/artifacts/a/x.csv', '1,2');
    await put('3/run/artifacts/a/sub/y.txt', 'y');

    const top = await list('3/run/artifacts');
    expect(top.status).toBe(200);
    expect(top.text).toBe(
      JSON.stringify({
        files: [
          { path: 'a', is_dir: true },
          { path: 'b.txt', is_dir: false, file_size: 5 },
        ],
      }),
    );
    expect((await list('3/run/artifacts/a')).text).toBe(
      JSON.stringify({
        files: [
          { path: 'sub', is_dir: true },
          { path: 'x.csv', is_dir: false, file_size: 3 },
        ],
      }),
    );
    expect((await list('3/run/artifacts/a/')).json()).toEqual((await list('3/run/artifacts/a')).json());
    expect((await list('3')).json()).toEqual({ files: [{ path: 'run', is_dir: true }] });
    for (const path of ['3/run/artifacts/nope', '3/run/artifacts/b.txt']) {
      const res = await list(path);
      expect({ status: res.status, text: res.text }).toEqual({ status: 200, text: '{}' });
    }
    // The root itself (no path, or an empty one).
    const whole = (await list()).json<{ files: Array<{ path: string }> }>();
    expect(whole.files.map((f) => f.path)).toEqual(expect.arrayContaining(['1', '2', '3']));
    expect((await list('')).json()).toEqual(whole);
  });

  test('delete a file and a folder; a missing file is a 404', async () => {
    await put('4/run/artifacts/keep.txt', 'k');
    await put('4/run/artifacts/gone.txt', 'g');
    await put('4/run/artifacts/dir/inner.txt', 'i');

    const del = await send('DELETE', `${ARTIFACTS}/4/run/artifacts/gone.txt`);
    expect({ status: del.status, text: del.text }).toEqual({ status: 200, text: '{}' });
    expect((await send('DELETE', `${ARTIFACTS}/4/run/artifacts/dir`)).status).toBe(200);
    expect((await list('4/run/artifacts')).json()).toEqual({ files: [{ path: 'keep.txt', is_dir: false, file_size: 1 }] });
    // Deleting what is not there is fine (LocalArtifactRepository.delete_artifacts).
    expect((await send('DELETE', `${ARTIFACTS}/4/run/artifacts/gone.txt`)).status).toBe(200);

    expectError(await send('GET', `${ARTIFACTS}/4/run/artifacts/gone.txt`), 404, 'RESOURCE_DOES_NOT_EXIST', "No such artifact: '4/run/artifacts/gone.txt'");
    expectError(
      await send('GET', `${ARTIFACTS}/4/run/artifacts`),
      400,
      'INVALID_PARAMETER_VALUE',
      "Artifact path refers to a directory, not a file: '4/run/artifacts'",
    );
  });

  test('traversal: .., encoded .., absolute paths, NUL and symlinks out of the root are "Invalid path", nothing written outside', async () => {
    const outside = dirname(root);
    const before = filesUnder(outside).filter((f) => !f.startsWith('artifacts'));
    const attempts = [
      '../escape.txt',
      '5/../../escape.txt',
      '%2e%2e/escape.txt',
      '%2E%2E%2Fescape.txt',
      '%252e%252e/escape.txt',
      '5/%2e%2e/%2e%2e/escape.txt',
      '%2Ftmp%2Fescape.txt',
      '/tmp/escape.txt',
      'file:%2F%2F%2Ftmp%2Fescape.txt',
      '5/a%00b.txt',
      '5/a%23b.txt',
      'code-bundles/sha256-x.tar.gz',
    ];
    for (const path of attempts) {
      const target = `${ARTIFACTS}/${path}`;
      expectError(await send('PUT', target, 'evil'), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      expectError(await send('GET', target), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
      expectError(await send('DELETE', target), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    }
    for (const path of ['../', '..', '/etc', '%2e%2e/x', '5/../..']) {
      expectError(await list(path), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    }
    // A symlink inside the root that points out of it.
    mkdirSync(join(root, '5'), { recursive: true });
    symlinkSync(outside, join(root, '5', 'link'));
    expectError(await put('5/link/escape.txt', 'evil'), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    expectError(await list('5/link'), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
    expectError(await send('GET', `${ARTIFACTS}/5/link/wf-x`), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');

    expect(filesUnder(outside).filter((f) => !f.startsWith('artifacts'))).toEqual(before);
  });

  test('multipart upload is not supported, with the message the client falls back to a single PUT on', async () => {
    const res = await send('POST', '/api/2.0/mlflow-artifacts/mpu/create/7/run/artifacts/x.bin', JSON.stringify({ path: 'x.bin', num_parts: 2 }), {
      'content-type': 'application/json',
    });
    expectError(res, 501, 'NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository');
  });

  test('a declared body above 1 GiB is a 413 and leaves nothing behind', async () => {
    const url = new URL(baseUrl);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: `${ARTIFACTS}/6/run/artifacts/huge.bin`,
          headers: { 'content-type': 'application/octet-stream', 'content-length': 2 * 1024 * 1024 * 1024 },
        },
        (response) => {
          let body = '';
          response.on('data', (c: Buffer) => (body += c.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          response.on('error', reject);
        },
      );
      req.on('error', () => undefined); // the server may close the connection while we still "send"
      req.write(Buffer.alloc(1024));
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'The artifact is larger than the limit of 1 GiB' });
    expect(existsSync(join(root, '6/run/artifacts/huge.bin'))).toBe(false);
  });

  test('artifacts/list of a run in an experiment with the default mlflow-artifacts location', async () => {
    const json = <T>(path: string, body: unknown): Promise<T> =>
      send('POST', `/api/2.0/mlflow/${path}`, JSON.stringify(body), { 'content-type': 'application/json' }).then((r) => r.json<T>());
    const { experiment_id } = await json<{ experiment_id: string }>('experiments/create', { name: `proxied-${randomBytes(6).toString('hex')}` });
    const exp = await send('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${experiment_id}`);
    expect(exp.json<{ experiment: { artifact_location: string } }>().experiment.artifact_location).toBe(`mlflow-artifacts:/${experiment_id}`);
    const { run } = await json<{ run: { info: { run_id: string; artifact_uri: string } } }>('runs/create', { experiment_id });
    const { run_id, artifact_uri } = run.info;
    expect(artifact_uri).toBe(`mlflow-artifacts:/${experiment_id}/${run_id}/artifacts`);

    // What mlflow.log_artifact does: PUT to the run's artifact path.
    await put(`${experiment_id}/${run_id}/artifacts/model/MLmodel`, 'flavors: {}\n');
    await put(`${experiment_id}/${run_id}/artifacts/notes.txt`, 'hi');
    // Stage runs use the same tree.
    expect(existsSync(join(root, experiment_id, run_id, 'artifacts', 'notes.txt'))).toBe(true);

    const listed = await send('GET', `/api/2.0/mlflow/artifacts/list?run_id=${run_id}`);
    expect(listed.status).toBe(200);
    expect(listed.json()).toEqual({
      root_uri: artifact_uri,
      files: [
        { path: 'model', is_dir: true },
        { path: 'notes.txt', is_dir: false, file_size: 2 },
      ],
    });
    expect((await send('GET', `/api/2.0/mlflow/artifacts/list?run_id=${run_id}&path=model`)).json()).toEqual({
      root_uri: artifact_uri,
      files: [{ path: 'model/MLmodel', is_dir: false, file_size: 12 }],
    });
    // The proxy's own listing of the same folder: basenames.
    expect((await list(`${experiment_id}/${run_id}/artifacts/model`)).json()).toEqual({ files: [{ path: 'MLmodel', is_dir: false, file_size: 12 }] });
    expect((await send('GET', `${ARTIFACTS}/${experiment_id}/${run_id}/artifacts/model/MLmodel`)).text).toBe('flavors: {}\n');
  });
});
