import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type AgentInput, type AgentJob, type AgentStatus, contractEnvName } from '../domain/agent-job';
import { SnapshotManifest } from '../domain/snapshot';
import { substitute } from '../domain/template';
import { unpackCodeBundle } from '../storage/code-bundle';
import { joinUri, type ObjectStore } from '../storage/object-store';
import { materializeSnapshot, outputDigest, readStoredText } from '../storage/snapshots';
import { commandEnv } from './extra-ca-certs';

/** Files the agent keeps in its job folder; the local provider reads the same names. */
export const jobFiles = {
  job: 'job.json',
  status: 'status.json',
  agentPid: 'agent.pid',
  commandPid: 'command.pid',
  stdout: 'stdout.log',
  stderr: 'stderr.log',
  /** Bulky folders a finished job no longer needs: unpacked code, materialized inputs. */
  scratch: ['work', 'inputs', 'code.tar.gz'],
} as const;

// How long a stage command gets to exit after SIGTERM before it is killed.
const TERMINATE_GRACE_MS = 10_000;

/**
 * Runs one stage job in `jobDir`: unpack code, materialize inputs, run the command, upload outputs
 * and logs, and write the status record last (atomically), which is what the provider waits for.
 */
export async function runJob(jobDir: string, job: AgentJob, store: ObjectStore, signals: NodeJS.EventEmitter = process): Promise<AgentStatus> {
  const startedAt = Date.now();
  const [workFolder, inputsFolder, archiveFile] = jobFiles.scratch;
  const workDir = join(jobDir, workFolder);
  const inputsDir = join(jobDir, inputsFolder);
  let status: AgentStatus;
  try {
    await mkdir(workDir, { recursive: true });
    if (job.codeBundleUri) {
      const archive = join(jobDir, archiveFile);
      await store.download(job.codeBundleUri, archive);
      await unpackCodeBundle(archive, workDir);
    }
    const inputs = await materializeInputs(job.inputs, inputsDir, store);
    const outputs = await prepareOutputs(job.outputs, workDir);
    const command = substitute(job.command, { params: job.params, inputs, outputs });
    // Env values may name params, inputs and outputs too; they are not shell words, so no quoting.
    const stageEnv = Object.fromEntries(
      Object.entries(job.env).map(([key, value]) => [key, substitute(value, { params: job.params, inputs, outputs }, { shell: false })]),
    );
    const env: NodeJS.ProcessEnv = {
      ...commandEnv(process.env),
      ...stageEnv,
      MLFLEET_WORKDIR: workDir,
      MLFLEET_INPUTS_DIR: inputsDir,
      MLFLEET_OUTPUTS_DIR: workDir,
    };
    for (const [name, path] of Object.entries(inputs)) env[contractEnvName('INPUT', name)] = path;
    for (const [name, path] of Object.entries(outputs)) env[contractEnvName('OUTPUT', name)] = path;

    const { exitCode, signal } = await runCommand(command, workDir, env, jobDir, signals);
    status = { exit_code: exitCode, started_at: startedAt, ended_at: Date.now(), outputs: {}, ...(signal ? { signal } : {}) };
    if (exitCode === 0) status = { ...status, ...(await uploadOutputs(job, outputs, store)) };
  } catch (err) {
    status = { exit_code: -1, started_at: startedAt, ended_at: Date.now(), outputs: {}, error: err instanceof Error ? err.message : String(err) };
  }
  await uploadLogs(jobDir, job.logsUri, store);
  const tmp = join(jobDir, `${jobFiles.status}.tmp`);
  await writeFile(tmp, JSON.stringify(status));
  await rename(tmp, join(jobDir, jobFiles.status));
  if (job.statusUri) await store.upload(join(jobDir, jobFiles.status), job.statusUri);
  return status;
}

/** Pinned inputs exactly as their manifests record them; upstream outputs (immutable) as stored. */
async function materializeInputs(inputs: Record<string, AgentInput>, inputsDir: string, store: ObjectStore): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, { uri, manifest, cas }] of Object.entries(inputs)) {
    const target = join(inputsDir, name, lastSegment(uri) || name);
    if (manifest) {
      const pinned = SnapshotManifest.parse(JSON.parse(await readStoredText(store, manifest)));
      await materializeSnapshot(store, pinned, cas, target);
    } else {
      if (!(await store.exists(uri))) throw new Error(`input '${name}' not found at ${uri}`);
      await store.download(uri, target);
    }
    paths[name] = target;
  }
  return paths;
}

/** The decoded last path segment of a URI: the file or folder name the stage will see. */
const lastSegment = (uri: string): string => basename(decodeURIComponent(new URL(uri).pathname.replace(/\/+$/, '')));

async function prepareOutputs(outputs: Record<string, string>, workDir: string): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, relativePath] of Object.entries(outputs)) {
    const path = resolve(workDir, relativePath);
    // A trailing '/' declares a folder output; otherwise only its parent folder is created.
    await mkdir(relativePath.endsWith('/') ? path : resolve(path, '..'), { recursive: true });
    paths[name] = path;
  }
  return paths;
}

async function uploadOutputs(
  job: AgentJob,
  outputs: Record<string, string>,
  store: ObjectStore,
): Promise<Pick<AgentStatus, 'outputs' | 'output_digests' | 'error' | 'exit_code'>> {
  const uris: Record<string, string> = {};
  const digests: Record<string, string> = {};
  for (const [name, path] of Object.entries(outputs)) {
    const written = await stat(path).catch(() => undefined);
    if (!written) {
      return { exit_code: -1, outputs: {}, error: `the command exited 0 but did not write output '${name}' (${job.outputs[name]})` };
    }
    const uri = joinUri(job.outputsUri, name, encodeURIComponent(basename(path)));
    digests[name] = await outputDigest(path);
    await store.upload(path, uri);
    uris[name] = uri;
  }
  return { exit_code: 0, outputs: uris, output_digests: digests };
}

async function uploadLogs(jobDir: string, logsUri: string, store: ObjectStore): Promise<void> {
  for (const file of [jobFiles.stdout, jobFiles.stderr]) {
    const path = join(jobDir, file);
    if (await stat(path).then(() => true, () => false)) await store.upload(path, joinUri(logsUri, file));
  }
}

function runCommand(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  jobDir: string,
  signals: NodeJS.EventEmitter,
): Promise<{ exitCode: number; signal?: string }> {
  return new Promise((resolvePromise, reject) => {
    const stdout = createWriteStream(join(jobDir, jobFiles.stdout), { flags: 'a' });
    const stderr = createWriteStream(join(jobDir, jobFiles.stderr), { flags: 'a' });
    // Its own process group, so stopping the stage stops everything the command started.
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(stdout);
    child.stderr.pipe(stderr);
    if (child.pid !== undefined) void writeFile(join(jobDir, jobFiles.commandPid), String(child.pid));
    const terminate = (): void => {
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), TERMINATE_GRACE_MS).unref();
    };
    signals.once('SIGTERM', terminate);
    signals.once('SIGINT', terminate);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      signals.removeListener('SIGTERM', terminate);
      signals.removeListener('SIGINT', terminate);
      stdout.end();
      stderr.end();
      resolvePromise(signal ? { exitCode: 128 + (signalNumber[signal] ?? 0), signal } : { exitCode: code ?? -1 });
    });
  });
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export async function readJob(jobDir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(jobDir, jobFiles.job), 'utf8')) as unknown;
}
