import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const AGENT_MAIN = join(__dirname, '..', '..', 'agent', 'main.ts');

/**
 * The stage agent as one plain CommonJS file under `outDir`, named by its content. Every stage
 * starts the agent as a new process: from the bundle that takes ~0.15 s, against ~0.5 s through a
 * TypeScript loader, a cost every stage of a launch paid. Content-addressed, so a rebuild never
 * changes the file an agent that is still running was started from.
 */
export async function buildAgentBundle(outDir: string): Promise<string> {
  const code = await agentBundleCode();
  const path = join(outDir, `agent-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.cjs`);
  if (!existsSync(path)) {
    await mkdir(outDir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, path);
  }
  return path;
}

let built: Promise<Uint8Array> | undefined;

/** The bundled agent's code, built once per process: what the local provider writes and the API serves to VMs. */
export function agentBundleCode(): Promise<Uint8Array> {
  built ??= build({ entryPoints: [AGENT_MAIN], bundle: true, platform: 'node', target: 'node20', format: 'cjs', write: false, logLevel: 'silent' }).then(
    (result) => {
      const code = result.outputFiles[0]?.contents;
      if (!code) throw new Error('building the stage agent produced no output');
      return code;
    },
  );
  // A failed build is not kept: the next caller tries again.
  built.catch(() => (built = undefined));
  return built;
}
