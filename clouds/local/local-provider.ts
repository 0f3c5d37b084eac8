import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentEnv } from '../../agent/extra-ca-certs';
import { jobFiles, killGroup } from '../../agent/run-job';
import { type AgentJob, AgentStatus } from '../../domain/agent-job';
import type { ComputeProvider, StageState } from '../compute-provider';
import { buildLocalAgent, type LocalAgent } from './agent-bundle';

// How long the agent gets to stop its command and upload logs before everything is killed.
const AGENT_STOP_GRACE_MS = 15_000;

// How long an agent that has written its status gets to exit by itself before it is stopped: it is
// only finishing up (an agent rebuilding its code cache writes it as it exits; a SIGTERM would lose it).
const AGENT_EXIT_WAIT_MS = 1_000;

/**
 * Runs each stage's agent as a detached local process in `<workRoot>/<key>/`. Detached, so a
 * worker that dies (even by SIGKILL) leaves it running and the retried activity adopts it.
 */
export class LocalProvider implements ComputeProvider {
  readonly name = 'local';

  private localAgent: Promise<LocalAgent> | undefined;

  constructor(private readonly workRoot: string) {}

  /** Built on the first stage a worker starts, then shared by every later one. */
  private agent(): Promise<LocalAgent> {
    // A failed build is not kept: the next stage tries again.
    this.localAgent ??= buildLocalAgent(join(this.workRoot, '.agent')).catch((err: unknown) => {
      this.localAgent = undefined;
      throw err;
    });
    return this.localAgent;
  }

  jobDir(key: string): string {
    const readable = key.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);
    return join(this.workRoot, `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`);
  }

  async start(key: string, job: AgentJob): Promise<void> {
    const dir = this.jobDir(key);
    if (existsSync(join(dir, jobFiles.status)) || this.agentAlive(dir)) return;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, jobFiles.job), JSON.stringify(job));
    const agent = await this.agent();
    const log = openSync(join(dir, 'agent.log'), 'a');
    try {
      const child = spawn(process.execPath, [agent.start, agent.bundle, dir], {
        detached: true,
        stdio: ['ignore', log, log],
        env: agentEnv(process.env),
      });
      if (child.pid === undefined) throw new Error(`could not start the stage agent for ${key}`);
      await writeFile(join(dir, jobFiles.agentPid), String(child.pid));
      child.unref();
    } finally {
      closeSync(log);
    }
  }

  async poll(key: string): Promise<StageState> {
    const dir = this.jobDir(key);
    const statusFile = join(dir, jobFiles.status);
    if (existsSync(statusFile)) {
      return { state: 'exited', status: AgentStatus.parse(JSON.parse(await readFile(statusFile, 'utf8'))) };
    }
    if (this.agentAlive(dir)) return { state: 'running' };
    // The agent may have written its status between the two checks.
    if (existsSync(statusFile)) return this.poll(key);
    return { state: 'lost', reason: `the stage agent for ${key} is gone without a status record` };
  }

  async terminate(key: string): Promise<void> {
    const dir = this.jobDir(key);
    const agentPid = readPid(join(dir, jobFiles.agentPid));
    if (existsSync(join(dir, jobFiles.status))) await this.untilExited(dir, AGENT_EXIT_WAIT_MS, 5);
    if (this.agentAlive(dir)) {
      // SIGTERM lets the agent stop its command and keep its logs; SIGKILL follows if it lingers.
      try {
        process.kill(agentPid!, 'SIGTERM');
      } catch {
        // exited meanwhile
      }
      await this.untilExited(dir, AGENT_STOP_GRACE_MS, 100);
    }
    killGroup(agentPid, 'SIGKILL');
    killGroup(readPid(join(dir, jobFiles.commandPid)), 'SIGKILL');
    // Outputs and logs are in the artifact store by now; keep only the small records for debugging.
    for (const scratch of jobFiles.scratch) await rm(join(dir, scratch), { recursive: true, force: true });
  }

  /** Local stages share the worker's machine and API: stop them, and let the retry start over. */
  async interrupt(key: string): Promise<void> {
    await this.terminate(key);
    const dir = this.jobDir(key);
    for (const record of [jobFiles.status, jobFiles.agentPid, jobFiles.commandPid]) await rm(join(dir, record), { force: true });
  }

  /** Waits until the job's agent is gone, checking every `everyMs`, for at most `withinMs`. */
  private async untilExited(dir: string, withinMs: number, everyMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (this.agentAlive(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, everyMs));
  }

  /** Alive and really our agent: a recycled pid must not be mistaken for it. */
  private agentAlive(dir: string): boolean {
    const pid = readPid(join(dir, jobFiles.agentPid));
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    const cmdline = `/proc/${pid}/cmdline`;
    if (!existsSync('/proc/self')) return true;
    try {
      const text = readFileSync(cmdline, 'utf8');
      return text.includes(dir) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
    } catch {
      return false;
    }
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
