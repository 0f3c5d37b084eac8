import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// The Python peers of a benchmark live in a venv of their own under .tools/, pinned by requirement
// files next to the benchmark. A digest of those files, kept in the venv, tells when a venv made from
// other pins needs installing again, without asking pip on every run.

const ROOT = join(__dirname, '..', '..');

interface Requirements {
  file: string;
  noDeps?: boolean;
}

export interface VenvSpec {
  /** The venv's folder, e.g. .tools/bench. */
  dir: string;
  /** Installed in this order; the log line names the first. `noDeps` files go in with pip's --no-deps. */
  requirements: readonly [Requirements, ...Requirements[]];
  /** What the requirements install, for the log line: `Metaflow`. */
  what: string;
}

export interface VenvTools {
  log: (line: string) => void;
  /** Runs a command to completion and returns its output; throws the benchmark's own skip error. */
  run: (cmd: string, args: string[]) => string;
  /** The benchmark's skip error, for when there is no Python to make the venv with. */
  skip: (reason: string) => Error;
}

/** Creates or refreshes the venv unless its stamp records the same requirement files. */
export function ensureVenv(venv: VenvSpec, { log, run, skip }: VenvTools): void {
  const hash = createHash('sha256');
  for (const { file } of venv.requirements) hash.update(readFileSync(file));
  const digest = hash.digest('hex');
  const stamp = join(venv.dir, '.requirements-digest');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  const dirName = `${relative(ROOT, venv.dir)}/`;
  log(`installing ${venv.what} into ${dirName} from ${relative(ROOT, venv.requirements[0].file)} …`);
  const python = [process.env.PYTHON, 'python3', 'python'].find(
    (candidate) => candidate && spawnSync(candidate, ['-c', 'import sys; assert sys.version_info >= (3, 9)'], { stdio: 'ignore' }).status === 0,
  );
  if (!python) throw skip(`no Python 3.9+ to create ${dirName} (set PYTHON)`);
  const pip = join(venv.dir, 'bin', 'pip');
  if (!existsSync(pip)) run(python, ['-m', 'venv', venv.dir]);
  for (const { file, noDeps } of venv.requirements) {
    run(pip, ['install', '--quiet', '--disable-pip-version-check', ...(noDeps ? ['--no-deps'] : []), '-r', file]);
  }
  writeFileSync(stamp, digest);
}
