import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, fileUriOf } from '../../storage/file-store';
import { CodeBundleError, packCodeBundle, unpackCodeBundle } from '../../storage/code-bundle';
import { filePathOf } from '../../storage/file-store';

const store = new FileStore();
const scratch = mkdtempSync(join(tmpdir(), 'bundle-'));
const artifactRoot = fileUriOf(join(scratch, 'artifacts'));
const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' });

function makeTree(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('outside git: every file except local state, and equal content gives an equal digest', async () => {
  const a = makeTree('plain-a', { 'train.py': 'print(1)\n', 'lib/util.py': 'x = 1\n', 'node_modules/big/index.js': '', '.mlfleet/state': '' });
  const b = makeTree('plain-b', { 'train.py': 'print(1)\n', 'lib/util.py': 'x = 1\n' });
  const first = await packCodeBundle(a, artifactRoot, store);
  expect(first.files.map((f) => f.path)).toEqual(['lib/util.py', 'train.py']);
  expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(first.git).toBeUndefined();
  expect((await packCodeBundle(b, artifactRoot, store)).digest).toBe(first.digest);

  writeFileSync(join(b, 'train.py'), 'print(2)\n');
  expect((await packCodeBundle(b, artifactRoot, store)).digest).not.toBe(first.digest);
});

test('in git: tracked plus untracked files, .gitignore honoured, commit and dirty flag recorded', async () => {
  const dir = makeTree('repo', { 'pipeline.yaml': 'x', '.gitignore': 'data/\n*.log\n', 'data/big.csv': '1,2', 'run.log': 'noise' });
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'init');
  const clean = await packCodeBundle(dir, artifactRoot, store);
  expect(clean.files.map((f) => f.path)).toEqual(['.gitignore', 'pipeline.yaml']);
  expect(clean.git).toEqual({ commit: git(dir, 'rev-parse', 'HEAD').trim(), branch: expect.any(String) as string, dirty: false });

  writeFileSync(join(dir, 'new.py'), 'print("untracked")\n');
  const dirty = await packCodeBundle(dir, artifactRoot, store);
  expect(dirty.files.map((f) => f.path)).toEqual(['.gitignore', 'new.py', 'pipeline.yaml']);
  expect(dirty.git?.dirty).toBe(true);
  expect(dirty.digest).not.toBe(clean.digest);
});

test('git is found from a subfolder of a work tree and in a linked work tree, whose .git is a file', async () => {
  const repo = makeTree('outer', { 'pipelines/churn/pipeline.yaml': 'x', 'pipelines/churn/data/x.csv': '1', '.gitignore': 'data/\n' });
  git(repo, 'init', '-q');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'init');
  const head = git(repo, 'rev-parse', 'HEAD').trim();
  const sub = await packCodeBundle(join(repo, 'pipelines', 'churn'), artifactRoot, store);
  expect(sub.git).toEqual({ commit: head, branch: expect.any(String) as string, dirty: false });
  expect(sub.files.map((f) => f.path)).toEqual(['pipeline.yaml']);

  const linked = join(scratch, 'linked');
  git(repo, 'worktree', 'add', '-q', '-b', 'side', linked);
  const fromLinked = await packCodeBundle(join(linked, 'pipelines', 'churn'), artifactRoot, store);
  expect(fromLinked.git).toEqual({ commit: head, branch: 'side', dirty: false });
});

test('outside any .git, GIT_DIR and GIT_WORK_TREE in the environment still make a folder git', async () => {
  const repo = makeTree('detached-repo', { 'tracked.py': 'x = 1\n' });
  git(repo, 'init', '-q');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'init');
  const tree = makeTree('detached-tree', { 'tracked.py': 'x = 1\n' });
  process.env.GIT_DIR = join(repo, '.git');
  process.env.GIT_WORK_TREE = tree;
  try {
    const bundle = await packCodeBundle(tree, artifactRoot, store);
    expect(bundle.git).toEqual({ commit: git(repo, 'rev-parse', 'HEAD').trim(), branch: expect.any(String) as string, dirty: false });
  } finally {
    delete process.env.GIT_DIR;
    delete process.env.GIT_WORK_TREE;
  }
});

test('a folder with nothing to pack is a clear error, not an empty archive', async () => {
  const empty = makeTree('empty', { 'node_modules/x.js': '', '.mlfleet/state': '' });
  await expect(packCodeBundle(empty, artifactRoot, store)).rejects.toThrow(new CodeBundleError(`${empty} holds no files to pack`));
});

test('a bundle is stored once under its digest and unpacks to the same files', async () => {
  const dir = makeTree('roundtrip', { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });
  const bundle = await packCodeBundle(dir, artifactRoot, store);
  await packCodeBundle(dir, artifactRoot, store);
  const stored = readdirSync(filePathOf(`${artifactRoot}/code-bundles`)).filter((f) => f.startsWith(bundle.digest.replace(':', '-')));
  expect(stored.sort()).toEqual([`${bundle.digest.replace(':', '-')}.json`, `${bundle.digest.replace(':', '-')}.tar.gz`]);

  const archive = join(scratch, 'copy.tar.gz');
  await store.download(bundle.uri, archive);
  const out = join(scratch, 'unpacked');
  await unpackCodeBundle(archive, out);
  expect((await packCodeBundle(out, artifactRoot, store)).digest).toBe(bundle.digest);
});
