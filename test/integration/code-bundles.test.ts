import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import * as tar from 'tar';
import { buildApp } from '../../api/app';
import { MlfleetApi } from '../../cli/api-client';
import { uploadCode } from '../../cli/code-upload';
import { codeBundleUri, listCodeFiles, MAX_BUNDLE_BYTES, packCodeBundle, writeCodeArchive } from '../../storage/code-bundle';
import { FileStore, filePathOf, fileUriOf } from '../../storage/file-store';
import { createPool } from '../../store/pool';
import { testEnv } from '../helpers/services';

let pool: pg.Pool;
let connection: Connection;
let app: FastifyInstance;
let baseUrl: string;
let scratch: string;
let artifactRoot: string;
const store = new FileStore();

beforeAll(async () => {
  scratch = mkdtempSync(join(testEnv().dataDir, 'code-bundles-'));
  artifactRoot = fileUriOf(join(scratch, 'artifacts'));
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'code-bundles-test', artifactRoot });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

let dirs = 0;
function makeTree(files: Record<string, string>): string {
  const dir = join(scratch, `tree-${++dirs}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();

async function archiveOf(dir: string): Promise<Buffer> {
  const archive = join(scratch, `archive-${++dirs}.tar.gz`);
  await writeCodeArchive(dir, await listCodeFiles(dir), archive);
  return readFileSync(archive);
}

async function upload(body: Buffer | string, query = '', contentType = 'application/gzip'): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/api/v1/code-bundles${query}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A gzip tar written header by header, so it can hold what no well-behaved packer would write. */
function rawArchive(entries: { path: string; type: string; body?: string; linkpath?: string; mode?: number; size?: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const header = new tar.Header({
      path: entry.path,
      type: entry.type as tar.Header['type'],
      size: entry.size ?? body.length,
      mode: entry.mode ?? 0o644,
      mtime: new Date(0),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    });
    header.encode();
    blocks.push(header.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** What this file's uploads left behind: archives under its artifact root and rows pointing there. */
async function stored(): Promise<{ files: string[]; rows: number }> {
  const folder = filePathOf(`${artifactRoot}/code-bundles`);
  const files = existsSync(folder) ? readdirSync(folder).sort() : [];
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM code_bundles WHERE uri LIKE $1', [`${artifactRoot}/%`]);
  return { files, rows: rows[0]?.n ?? 0 };
}

test('a git folder uploaded by the CLI: the digest of packing it directly, its git facts, 200 on the second upload', async () => {
  const dir = makeTree({ 'train.py': 'print(1)\n', 'lib/util.py': 'x = 1\n', '.gitignore': 'data/\n', 'data/big.csv': '1,2\n' });
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  git(dir, 'init', '-q', '-b', 'feature/x');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'init');
  writeFileSync(join(dir, 'untracked.py'), 'y = 2\n'); // untracked, not ignored: part of the bundle, and dirty
  symlinkSync('train.py', join(dir, 'alias.py')); // untracked symlink: never part of a bundle

  const direct = await packCodeBundle(dir, fileUriOf(join(scratch, 'direct')), store);
  const api = new MlfleetApi(baseUrl);
  const { bundle } = await uploadCode(api, dir);
  expect(bundle).toBe(direct.digest);
  expect(direct.files.map((f) => f.path)).toEqual(['.gitignore', 'lib/util.py', 'run.sh', 'train.py', 'untracked.py']);
  expect(existsSync(filePathOf(codeBundleUri(artifactRoot, bundle)))).toBe(true);

  const info = await fetch(`${baseUrl}/api/v1/code-bundles/${bundle}`);
  expect(info.status).toBe(200);
  expect(await info.json()).toEqual({
    digest: bundle,
    files: 5,
    bytes: direct.bytes,
    uri: codeBundleUri(artifactRoot, bundle),
    git_commit: git(dir, 'rev-parse', 'HEAD'),
    git_branch: 'feature/x',
    git_dirty: true,
    created_at: expect.any(Number) as number,
  });

  // The same content again, without git facts: 200, the same digest, the first upload's facts kept.
  const again = await upload(await archiveOf(dir));
  expect(again).toEqual({ status: 200, json: { digest: bundle, files: 5, bytes: direct.bytes } });
  expect(((await (await fetch(`${baseUrl}/api/v1/code-bundles/${bundle}`)).json()) as { git_commit: string }).git_commit).toBe(git(dir, 'rev-parse', 'HEAD'));
});

test('a plain folder: 201 with the digest of packing it directly, and no git facts', async () => {
  const dir = makeTree({ 'a.txt': `${Date.now()}\n`, 'deep/er/b.txt': 'b\n', 'node_modules/x/index.js': 'skipped\n' });
  const direct = await packCodeBundle(dir, fileUriOf(join(scratch, 'direct')), store);
  const created = await upload(await archiveOf(dir), '', 'application/octet-stream');
  expect(created).toEqual({ status: 201, json: { digest: direct.digest, files: 2, bytes: direct.bytes } });
  const info = (await (await fetch(`${baseUrl}/api/v1/code-bundles/${direct.digest}`)).json()) as Record<string, unknown>;
  expect(Object.keys(info).sort()).toEqual(['bytes', 'created_at', 'digest', 'files', 'uri']);
});

test('git facts in the query are validated, and recorded', async () => {
  const archive = await archiveOf(makeTree({ 'q.txt': `${Date.now()}\n` }));
  expect(await upload(archive, '?git_commit=abc')).toEqual({
    status: 400,
    json: { error_code: 'INVALID_PARAMETER_VALUE', message: "git_commit: expected a full git commit hash (40 or 64 lowercase hex digits)" },
  });
  expect((await upload(archive, '?git_branch=main')).json.message).toBe('git_branch: only allowed together with git_commit');
  expect((await upload(archive, `?git_commit=${'a'.repeat(40)}&git_dirty=yes`)).json.message).toBe(
    "git_dirty: expected 'true' or 'false', got 'yes'",
  );
  expect((await upload(archive, '?gitcommit=x')).json.message).toBe("query: unknown field 'gitcommit'");
  const commit = 'b'.repeat(40);
  const ok = await upload(archive, `?git_commit=${commit}&git_branch=release%2F1.2&git_dirty=false`);
  expect(ok.status).toBe(201);
  const info = (await (await fetch(`${baseUrl}/api/v1/code-bundles/${String(ok.json.digest)}`)).json()) as Record<string, unknown>;
  expect(info).toMatchObject({ git_commit: commit, git_branch: 'release/1.2', git_dirty: false });
});

test('malicious or broken archives are refused with the entry named, and nothing is stored', async () => {
  const before = await stored();
  const cases: [string, Buffer, string][] = [
    ['parent path', rawArchive([{ path: 'ok.txt', type: 'File', body: 'ok' }, { path: '../x', type: 'File', body: 'evil' }]), "body: archive entry '../x': '..' is not allowed in paths"],
    ['nested parent path', rawArchive([{ path: 'a/../../x', type: 'File', body: 'evil' }]), "body: archive entry 'a/../../x': '..' is not allowed in paths"],
    ['absolute path', rawArchive([{ path: '/tmp/mlfleet-evil', type: 'File', body: 'evil' }]), "body: archive entry '/tmp/mlfleet-evil': absolute paths are not allowed"],
    ['symlink', rawArchive([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), "body: archive entry 'link': symbolic links are not allowed"],
    ['hard link', rawArchive([{ path: 'hard', type: 'Link', linkpath: '/etc/passwd' }]), "body: archive entry 'hard': hard links are not allowed"],
    ['character device', rawArchive([{ path: 'dev', type: 'CharacterDevice' }]), "body: archive entry 'dev': CharacterDevice entries are not allowed"],
    ['block device', rawArchive([{ path: 'blk', type: 'BlockDevice' }]), "body: archive entry 'blk': BlockDevice entries are not allowed"],
    ['fifo', rawArchive([{ path: 'pipe', type: 'FIFO' }]), "body: archive entry 'pipe': FIFO entries are not allowed"],
    [
      'several problems',
      rawArchive([{ path: '../a', type: 'File', body: 'x' }, { path: 's', type: 'SymbolicLink', linkpath: 'a' }]),
      "body: archive entry '../a': '..' is not allowed in paths\narchive entry 's': symbolic links are not allowed",
    ],
  ];
  for (const [name, archive, message] of cases) {
    expect({ name, ...(await upload(archive)) }).toEqual({ name, status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
  }
  expect(existsSync('/tmp/mlfleet-evil')).toBe(false);
  expect(existsSync(join(scratch, '..', 'x'))).toBe(false);

  const notGzip = await upload(Buffer.from('definitely not an archive'));
  expect(notGzip.status).toBe(400);
  expect(notGzip.json.message).toMatch(/^body: not a readable gzip tar archive: /);
  expect((await upload(Buffer.alloc(0))).json).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: 'body: expected a gzip tar archive of the code folder (Content-Type: application/gzip)',
  });
  const conflict = await upload(rawArchive([{ path: 'a', type: 'File', body: 'x' }, { path: 'a/b', type: 'File', body: 'y' }]));
  expect(conflict.status).toBe(400);
  expect(conflict.json.message).toMatch(/^body: cannot unpack the archive: /);
  expect((await upload(Buffer.from('x'), '', 'text/plain')).json).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: 'body: expected a gzip tar archive of the code folder (Content-Type: application/gzip)',
  });
  expect((await upload(Buffer.from('x'), '', 'application/x-tar')).json).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: 'Content-Type must be one of application/gzip, application/x-gzip, application/octet-stream for a code archive',
  });
  const json = await upload(JSON.stringify({ files: [] }), '', 'application/json');
  expect(json.status).toBe(400);
  expect(json.json.message).toBe('body: expected a gzip tar archive of the code folder (Content-Type: application/gzip)');
  expect(await stored()).toEqual(before);
});

test('a folder with hard links and a symlink: hard-linked files go up as plain files, the symlink stays out', async () => {
  const dir = makeTree({ 'real.txt': `real ${Date.now()}\n` });
  symlinkSync('/etc/passwd', join(dir, 'passwd'));
  linkSync(join(dir, 'real.txt'), join(dir, 'twin.txt'));
  const direct = await packCodeBundle(dir, fileUriOf(join(scratch, 'direct')), store);
  expect(direct.files.map((f) => f.path)).toEqual(['real.txt', 'twin.txt']);
  const entries: string[] = [];
  const archive = join(scratch, `links-${++dirs}.tar.gz`);
  writeFileSync(archive, await archiveOf(dir));
  await tar.list({ file: archive, onReadEntry: (e) => void entries.push(`${e.type} ${e.path}`) });
  expect(entries).toEqual(['File real.txt', 'File twin.txt']);
  expect(await uploadCode(new MlfleetApi(baseUrl), dir)).toEqual({ bundle: direct.digest });
});

test('an unreadable file is refused up front (the server could not hash it)', async () => {
  const before = await stored();
  const unreadable = rawArchive([{ path: 'secret', type: 'File', body: 'x', mode: 0o000 }]);
  expect((await upload(unreadable)).json).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: "body: archive entry 'secret': the file is not readable by its owner",
  });
  expect(await stored()).toEqual(before);
});

test('more than 200 MiB is a 413: by Content-Length, and by what the archive unpacks to', async () => {
  const before = await stored();
  // Announced too large: answered from the headers alone, before any of the body is read.
  const announced = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/api/v1/code-bundles`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', 'content-length': String(MAX_BUNDLE_BYTES + 1) },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write(Buffer.alloc(1024));
  });
  expect(announced.status).toBe(413);
  expect(JSON.parse(announced.body)).toEqual({
    error_code: 'INVALID_PARAMETER_VALUE',
    message: 'the archive is larger than the limit; code bundles are limited to 200 MiB (keep data out of the pipeline folder, or .gitignore it, and declare it as an input)',
  });

  // A small archive that unpacks to more than the limit (one file of zeros).
  const size = MAX_BUNDLE_BYTES + 1;
  const bomb = Buffer.concat([
    (() => {
      const header = new tar.Header({ path: 'zeros.bin', type: 'File', size, mode: 0o644, mtime: new Date(0) });
      header.encode();
      return header.block!;
    })(),
    Buffer.alloc(size + ((512 - (size % 512)) % 512) + 1024),
  ]);
  const compressed = gzipSync(bomb, { level: 1 });
  expect(compressed.length).toBeLessThan(MAX_BUNDLE_BYTES);
  const unpacked = await upload(compressed);
  expect(unpacked).toEqual({
    status: 413,
    json: {
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'the archive unpacks to more than 200 MiB; code bundles are limited to 200 MiB (keep data out of the pipeline folder, or .gitignore it, and declare it as an input)',
    },
  });
  expect(await stored()).toEqual(before);
});

test('GET of an unknown or malformed digest', async () => {
  const unknown = `sha256:${'0'.repeat(64)}`;
  const missing = await fetch(`${baseUrl}/api/v1/code-bundles/${unknown}`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Code bundle '${unknown}' not found` });
  const malformed = await fetch(`${baseUrl}/api/v1/code-bundles/sha256:xyz`);
  expect(malformed.status).toBe(400);
  expect(await malformed.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: "digest: expected sha256:<64 hex digits>" });
});
