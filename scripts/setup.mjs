// Installs everything mlfleet needs on a fresh clone, and nothing when it is already in place:
// node modules from the lockfile, and the pinned Python tools (Temporal CLI, MLflow, pytest, moto) in .tools/.
// Plain Node with no dependencies, because it runs before node_modules exists.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const digestOf = (files) => {
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(join(root, file)));
  return hash.digest('hex');
};

function run(cmd, args, env = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (result.error) throw new Error(`could not run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status}`);
}

/** Runs `install` unless `stampFile` already records the digest of `inputFiles`. */
function installOnce(label, inputFiles, stampFile, install) {
  const digest = digestOf(inputFiles);
  const stampPath = join(root, stampFile);
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === digest) return;
  console.log(`[setup] installing ${label} …`);
  const started = Date.now();
  install();
  writeFileSync(stampPath, digest);
  console.log(`[setup] ${label} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-c', 'import sys; assert sys.version_info >= (3, 10)'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  throw new Error('Python 3.10+ is needed for the tool venv (Temporal CLI, MLflow); set PYTHON to its path.');
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`[setup] mlfleet needs Node.js 20.19 or newer; this is ${process.version}.`);
  process.exit(1);
}

/**
 * `docker compose config` validates docker-compose.yml offline. Where docker lacks the Compose v2
 * plugin, build it from the Go module proxy into .tools/ (a few minutes, once).
 */
function ensureCompose() {
  const works = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  if (works('docker', ['compose', 'version'])) return;
  if (!works('go', ['version'])) {
    console.log('[setup] no `docker compose` and no Go toolchain: the docker-compose.yml check will be skipped (or fail under CI)');
    return;
  }
  installOnce('Docker Compose v2 (built with go into .tools/bin/)', ['tools/compose-version.txt'], '.tools/.compose-digest', () => {
    const version = readFileSync(join(root, 'tools', 'compose-version.txt'), 'utf8').trim();
    // `go install pkg@version` refuses modules with exclude directives; building inside the
    // downloaded module honours them.
    const download = spawnSync('go', ['mod', 'download', '-json', `github.com/docker/compose/v2@${version}`], { encoding: 'utf8' });
    if (download.status !== 0) throw new Error(`go mod download failed: ${download.stderr || download.stdout}`);
    const moduleDir = JSON.parse(download.stdout).Dir;
    const build = spawnSync('go', ['build', '-o', join(root, '.tools', 'bin', 'docker-compose'), './cmd'], {
      cwd: moduleDir,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    });
    if (build.status !== 0) throw new Error('building Docker Compose failed');
  });
}

try {
  installOnce('node modules (npm ci)', ['package-lock.json'], 'node_modules/.mlfleet-lock-digest', () =>
    run('npm', ['ci', '--no-audit', '--no-fund']),
  );
  installOnce('the Python tools: Temporal CLI, MLflow, pytest, moto (.tools/, from tools/requirements.txt)', ['tools/requirements.txt', 'tools/constraints.txt'], '.tools/.requirements-digest', () => {
    if (!existsSync(join(root, '.tools', 'bin', 'pip'))) run(findPython(), ['-m', 'venv', '.tools']);
    run(join(root, '.tools', 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', 'tools/requirements.txt', '-c', 'tools/constraints.txt']);
  });
  ensureCompose();
} catch (err) {
  console.error(`[setup] ${err.message}`);
  process.exit(1);
}
