import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Fault } from './faults';
import type { EmulatedVm } from './vm-host';
import { CONTROL_PREFIX, type PreemptRequest } from './control';

/** Drives an emulator's control API at `baseUrl` (its cloud endpoint: http://… or https://… with `ca` for a self-signed one). */
export class EmulatorControl {
  constructor(
    readonly baseUrl: string,
    private readonly options: { ca?: string } = {},
  ) {}

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

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(`${this.baseUrl}${CONTROL_PREFIX}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          ...(this.options.ca ? { ca: this.options.ca } : {}),
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 400) reject(new Error(`emulator ${method} ${path}: ${status} ${text.slice(0, 500)}`));
            else resolve(parsed);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}
