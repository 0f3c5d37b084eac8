import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { Fault, type FaultBook } from './faults';
import { readJsonBody } from './request-body';
import type { EmulatedVm, VmHost } from './vm-host';

/** Every emulator serves its control API under this prefix, beside the cloud's own API. */
export const CONTROL_PREFIX = '/_emulator';

export const PreemptRequest = z.union([z.object({ id: z.string().min(1) }).strict(), z.object({ name: z.string().min(1) }).strict()]);
export type PreemptRequest = z.infer<typeof PreemptRequest>;

export interface ControlTarget {
  host: VmHost;
  faults: FaultBook;
  /** How this cloud reclaims a spot VM (EC2 terminates it, GCP and Azure delete it): defaults to `host.terminate(id, 'preempted')`. */
  preempt?: (vm: EmulatedVm) => Promise<void>;
}

/**
 * The control API: `GET /_emulator/vms[?live=1]`, `POST /_emulator/faults` (a {@link Fault}),
 * `POST /_emulator/preempt` ({id} or {name}), `POST /_emulator/reset`. Returns false for any other
 * path, for the cloud's own routes to answer.
 */
export async function handleControl(req: IncomingMessage, res: ServerResponse, target: ControlTarget): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  if (!url.pathname.startsWith(CONTROL_PREFIX)) return false;
  const route = `${req.method ?? 'GET'} ${url.pathname.slice(CONTROL_PREFIX.length)}`;
  try {
    switch (route) {
      case 'GET /vms': {
        const vms = url.searchParams.get('live') === '1' ? target.host.live() : target.host.list();
        return reply(res, 200, { vms: vms.map(({ pid: _pid, ...vm }) => vm) });
      }
      case 'POST /faults': {
        const fault = Fault.safeParse((await readJsonBody(req)) ?? {});
        if (!fault.success) return reply(res, 400, { error: fault.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
        target.faults.inject(fault.data);
        return reply(res, 201, { fault: fault.data });
      }
      case 'POST /preempt': {
        const which = PreemptRequest.safeParse((await readJsonBody(req)) ?? {});
        if (!which.success) return reply(res, 400, { error: 'body: give {"id": …} or {"name": …}' });
        const vm = 'id' in which.data ? target.host.get(which.data.id) : target.host.byName(which.data.name);
        if (!vm || vm.state === 'terminated') return reply(res, 404, { error: 'no such live VM' });
        await (target.preempt ? target.preempt(vm) : target.host.terminate(vm.id, 'preempted'));
        return reply(res, 200, { preempted: vm.id });
      }
      case 'POST /reset':
        target.faults.clear();
        await target.host.reset();
        return reply(res, 200, { reset: true });
      default:
        return reply(res, 404, { error: `no control route ${route}` });
    }
  } catch (err) {
    return reply(res, 400, { error: err instanceof Error ? err.message : String(err) });
  }
}


function reply(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}
