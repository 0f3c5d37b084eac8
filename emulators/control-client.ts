import type { Fault } from './faults';
import type { EmulatedVm } from './vm-host';
import { CONTROL_PREFIX, type PreemptRequest } from './control';

/** Drives an emulator's control API at `baseUrl` (its cloud endpoint: http://… or https://…). */
export class EmulatorControl {
  constructor(readonly baseUrl: string) {}

  async vms(options: { live?: boolean } = {}): Promise<Omit<EmulatedVm, 'pid'>[]> {
    const body = (await this.call('GET', `/vms${options.live ? '?live=1' : ''}`)) as { vms: Omit<EmulatedVm, 'pid'>[] };
    return body.vms;
  }

  async liveVms(): Promise<Omit<EmulatedVm, 'pid'>[]> {
    return this.vms({ live: true });
  }

  async injectFault(fault: Omit<Fault, 'count'> & { count?: number }): Promise<void> {
    await this.call('POST', '/faults', fault);
  }

  async preempt(which: PreemptRequest): Promise<void> {
    await this.call('POST', '/preempt', which);
  }

  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${CONTROL_PREFIX}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const parsed: unknown = await res.json();
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${JSON.stringify(parsed)}`);
    return parsed;
  }
}
