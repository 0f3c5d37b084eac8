import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/**
 * `node cached-start.cjs AGENT_BUNDLE JOB_DIR`: runs the agent bundle from V8's code cache, kept
 * beside it as `AGENT_BUNDLE.v8cache`, since compiling the bundle is a large share of an agent's
 * start and every local stage starts an agent. The first agent (or one whose cache V8 rejects, after a
 * Node upgrade) compiles as usual and writes the cache when it exits, so the cache holds every
 * function that run compiled.
 */
function start(): void {
  const bundle = process.argv[2];
  if (!bundle) {
    console.error('usage: cached-start AGENT_BUNDLE JOB_DIR');
    process.exit(2);
  }
  const cacheFile = `${bundle}.v8cache`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet: this run makes it
  }
  const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // a cache is only a speed-up: the next agent compiles again
      }
    });
  }
  // The agent reads its arguments from argv[2]: drop this script from the line, as if run directly.
  process.argv.splice(1, 1);
  const module = { exports: {} };
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  run(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

start();
