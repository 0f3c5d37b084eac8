import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmCloud } from '../domain/clouds';

export type EmulatedCloud = VmCloud;

export interface EmulatedVm {
  id: string;
  name: string;
  cloud: EmulatedCloud;
  region: string;
  zone: string | null;
  instance_type: string;
  spot: boolean;
  tags: Record<string, string>;
  state: 'running' | 'terminated';
  created_at: number;
  terminated_at?: number;
  termination_reason?: 'deleted' | 'preempted';
  /** The boot script's process group, while it runs. */
  pid?: number;
}

// How long a VM's processes get after SIGTERM (a real spot VM gets about 30 s; tests want less).
const SHUTDOWN_GRACE_MS = 3_000;

// What a fresh VM image has anyway: the machine's basics (PATH finds this machine's node).
const BASE_VARIABLES = new Set(['PATH', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR']);
// The cloud's network: where its endpoints are and how to reach them, never who may call them.
const NETWORK_VARIABLES = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy']);

/**
 * The environment a VM's boot script starts with: the basics of `host` and the variables that
 * stand for the cloud's network (AWS_ENDPOINT_URL*, region, proxies). Nothing of the worker's
 * identity: no AWS_* credentials, profiles or credential files, no GCP or Azure credentials, and
 * its own HOME, so no ~/.aws of this machine either. The emulated clouds have no instance metadata
 * service, so the SDKs are told not to look for one. A VM has what its boot script gives it.
 */
export function vmEnvironment(host: NodeJS.ProcessEnv, home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(host)) {
    if (value === undefined) continue;
    if (BASE_VARIABLES.has(name) || name.startsWith('LC_') || NETWORK_VARIABLES.has(name) || /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(name)) env[name] = value;
  }
  return { ...env, HOME: home, AWS_EC2_METADATA_DISABLED: 'true' };
}

/**
 * The machines of an emulated cloud. A VM "boots" by running its user data / startup script as a
 * detached bash process group on this machine, in `<root>/<id>/`, so a stage placed on an emulated
 * cloud really runs its agent; deleting or preempting the VM kills that group.
 */
export class VmHost {
  private readonly vms = new Map<string, EmulatedVm>();

  constructor(
    private readonly root: string,
    readonly cloud: EmulatedCloud,
  ) {}

  boot(vm: Omit<EmulatedVm, 'cloud' | 'state' | 'created_at' | 'pid'>, bootScript: string): EmulatedVm {
    const record: EmulatedVm = { ...vm, cloud: this.cloud, state: 'running', created_at: Date.now() };
    this.vms.set(vm.id, record);
    if (bootScript.trim() === '') return record;
    const dir = join(this.root, vm.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'boot.sh'), bootScript, { mode: 0o700 });
    const log = openSync(join(dir, 'console.log'), 'a');
    try {
      const child = spawn('bash', [join(dir, 'boot.sh')], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...vmEnvironment(process.env, dir), MLFLEET_VM_ID: vm.id, MLFLEET_VM_NAME: vm.name },
      });
      child.on('error', () => undefined);
      child.on('exit', () => {
        delete record.pid;
      });
      child.unref();
      if (child.pid !== undefined) record.pid = child.pid;
    } finally {
      closeSync(log);
    }
    return record;
  }

  get(id: string): EmulatedVm | undefined {
    return this.vms.get(id);
  }

  byName(name: string): EmulatedVm | undefined {
    return [...this.vms.values()].find((vm) => vm.name === name && vm.state !== 'terminated') ?? [...this.vms.values()].find((vm) => vm.name === name);
  }

  list(): EmulatedVm[] {
    return [...this.vms.values()];
  }

  live(): EmulatedVm[] {
    return this.list().filter((vm) => vm.state !== 'terminated');
  }

  /** Stops the VM's processes and marks it terminated; a VM already terminated stays as it was. */
  async terminate(id: string, reason: 'deleted' | 'preempted'): Promise<EmulatedVm | undefined> {
    const vm = this.vms.get(id);
    if (!vm || vm.state === 'terminated') return vm;
    vm.state = 'terminated';
    vm.terminated_at = Date.now();
    vm.termination_reason = reason;
    await stopGroup(vm.pid);
    delete vm.pid;
    return vm;
  }

  /** Terminates every live VM and forgets them all. */
  async reset(): Promise<void> {
    await Promise.all(this.live().map((vm) => this.terminate(vm.id, 'deleted')));
    this.vms.clear();
  }
}

async function stopGroup(pid: number | undefined): Promise<void> {
  if (pid === undefined || !signalGroup(pid, 'SIGTERM')) return;
  const deadline = Date.now() + SHUTDOWN_GRACE_MS;
  while (Date.now() < deadline && signalGroup(pid, 0)) await new Promise((resolve) => setTimeout(resolve, 50));
  signalGroup(pid, 'SIGKILL');
}

/** Signals the process group led by `pid`; false when it no longer exists. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
