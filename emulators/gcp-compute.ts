import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { CONTROL_PREFIX, handleControl } from './control';
import { FaultBook } from './faults';
import { type EmulatedVm, VmHost } from './vm-host';
import { InvalidJsonBody, readJsonBody } from './request-body';

/**
 * A local Compute Engine v1 REST API, as `@google-cloud/compute` (REST transport) speaks it:
 * instances insert / get / delete / list / aggregatedList and zone operations get / wait / list,
 * with `requestId` idempotency, label and operationType filters, proto3 JSON (enums and 64-bit
 * ids as strings) and absolute selfLink/zone URLs. An instance boots by running its
 * `startup-script` metadata in a {@link VmHost}; faults make the insert operation end DONE with a
 * stockout or quota error; the control API's `preempt` does what GCP does to a spot VM with
 * `instanceTerminationAction: DELETE`. Unknown query parameters (`$alt`, `$prettyPrint`) are ignored.
 */

export interface GcpEmulatorOptions {
  /** Where booted VMs keep their scripts and console logs (`<root>/<instance id>/`). */
  root: string;
  port?: number;
  /** How long an insert or delete operation stays RUNNING, so clients really have to wait on it. */
  operationLatencyMs?: number;
}

export interface GcpEmulator {
  /** The base URL the SDK (and the control client) point at: `http://127.0.0.1:PORT`. */
  endpoint: string;
  stop(): Promise<void>;
}

const DEFAULT_OPERATION_LATENCY_MS = 100;

// Compute Engine's `wait` returns after at most about two minutes even when the operation is not done.
const WAIT_LIMIT_MS = 120_000;

const ZONE_PATTERN = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;
const NAME_PATTERN = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

// Only what the emulator acts on is checked; every other field is kept and echoed back, as GCP does.
const InstanceBody = z.looseObject({
  name: z.string().regex(NAME_PATTERN, 'must be a lowercase RFC 1035 name'),
  machineType: z.string().min(1),
  labels: z.record(z.string(), z.string()).optional(),
  metadata: z.looseObject({ items: z.array(z.looseObject({ key: z.string(), value: z.string().optional() })).optional() }).optional(),
  scheduling: z.looseObject({ provisioningModel: z.string().optional() }).optional(),
});
type InstanceBody = z.infer<typeof InstanceBody>;

type InstanceStatus = 'PROVISIONING' | 'RUNNING' | 'STOPPING';

interface StoredInstance {
  project: string;
  zone: string;
  id: string;
  body: InstanceBody;
  status: InstanceStatus;
  creationTimestamp: string;
}

type InstanceJson = InstanceBody & {
  kind: 'compute#instance';
  id: string;
  zone: string;
  status: InstanceStatus;
  creationTimestamp: string;
  selfLink: string;
  labels: Record<string, string>;
};

interface OperationJson {
  kind: 'compute#operation';
  id: string;
  name: string;
  zone: string;
  operationType: string;
  targetLink: string;
  targetId: string;
  status: 'RUNNING' | 'DONE';
  progress: number;
  insertTime: string;
  startTime: string;
  endTime?: string;
  selfLink: string;
  user: string;
  statusMessage?: string;
  error?: { errors: { code: string; message: string }[] };
}

interface StoredOperation {
  project: string;
  zone: string;
  json: OperationJson;
  /** Resolves once the operation is DONE. */
  done: Promise<void>;
}

/** A failure answered with Compute Engine's HTTP error envelope. */
class GcpHttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const notFound = (resource: string) => new GcpHttpError(404, 'notFound', `The resource '${resource}' was not found`);
const invalid = (message: string) => new GcpHttpError(400, 'invalid', message);

/** A 64-bit resource id, as proto3 JSON writes uint64: a decimal string. */
function resourceId(): string {
  return (BigInt(`0x${randomBytes(8).toString('hex')}`) & 0x7fff_ffff_ffff_ffffn).toString();
}

const lastSegment = (url: string): string => url.split('/').pop() ?? url;
const regionOf = (zone: string): string => zone.replace(/-[a-z]$/, '');
const instanceKey = (project: string, zone: string, name: string): string => `${project}/${zone}/${name}`;

/** One term of a Compute Engine list filter: `field = value`, `field != value`, `field:value` or `field:*`. */
interface FilterTerm {
  path: string[];
  operator: '=' | '!=' | ':';
  value: string;
}

// Terms joined by whitespace or AND, each optionally in parentheses: `labels.a:* AND (status = "RUNNING")`.
const TERM_PATTERN = /\s*(?:AND\s+)?\(?\s*([A-Za-z_][\w.-]*)\s*(!=|=|:)\s*("(?:[^"\\]|\\.)*"|[^\s()]+)\s*\)?\s*/y;

function parseFilter(filter: string | null): FilterTerm[] {
  if (filter === null || filter.trim() === '') return [];
  const terms: FilterTerm[] = [];
  TERM_PATTERN.lastIndex = 0;
  while (TERM_PATTERN.lastIndex < filter.length) {
    const match = TERM_PATTERN.exec(filter);
    if (!match) throw invalid(`Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`);
    const [, field = '', operator = '=', raw = ''] = match;
    terms.push({ path: field.split('.'), operator: operator as FilterTerm['operator'], value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
  }
  return terms;
}

function fieldAt(resource: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), resource);
}

function matchesFilter(resource: unknown, terms: readonly FilterTerm[]): boolean {
  return terms.every(({ path, operator, value }) => {
    const field = fieldAt(resource, path);
    if (operator === ':' && value === '*') return field !== undefined;
    if (field === undefined || (typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean')) return operator === '!=';
    const text = String(field);
    if (operator === ':') return text.includes(value);
    return operator === '=' ? text === value : text !== value;
  });
}

class GcpCompute {
  private readonly instances = new Map<string, StoredInstance>();
  private readonly operations = new Map<string, StoredOperation>();
  /** `project/requestId` → the operation key the first request with it produced. */
  private readonly requests = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly host: VmHost,
    readonly faults: FaultBook,
    private readonly baseUrl: string,
    private readonly latencyMs: number,
  ) {}

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const [c, v, projects, project = '', scope, zone = '', collection, resource, verb] = parts;
    if (c !== 'compute' || v !== 'v1' || projects !== 'projects') throw notFound(url.pathname);
    if (scope === 'aggregated' && zone === 'instances' && parts.length === 6 && method === 'GET') {
      return send(res, 200, this.aggregatedList(project, parseFilter(url.searchParams.get('filter'))));
    }
    if (scope !== 'zones' || parts.length < 7 || parts.length > 9) throw notFound(url.pathname);
    if (!ZONE_PATTERN.test(zone)) throw notFound(`projects/${project}/zones/${zone}`);
    const filter = (): FilterTerm[] => parseFilter(url.searchParams.get('filter'));
    switch (`${method} ${collection}${resource === undefined ? '' : '/:name'}${verb === undefined ? '' : `/${verb}`}`) {
      case 'POST instances':
        return send(res, 200, this.insert(project, zone, url.searchParams.get('requestId'), await readJson(req)));
      case 'GET instances':
        return send(res, 200, this.list(project, zone, filter()));
      case 'GET instances/:name':
        return send(res, 200, this.instanceJson(this.instance(project, zone, resource ?? '')));
      case 'DELETE instances/:name':
        return send(res, 200, this.delete(project, zone, resource ?? ''));
      case 'GET operations':
        return send(res, 200, this.listOperations(project, zone, filter()));
      case 'GET operations/:name':
        return send(res, 200, this.operation(project, zone, resource ?? '').json);
      case 'POST operations/:name/wait':
        return send(res, 200, await this.wait(this.operation(project, zone, resource ?? '')));
      default:
        throw notFound(url.pathname);
    }
  }

  private insert(project: string, zone: string, requestId: string | null, rawBody: unknown): OperationJson {
    if (requestId !== null) {
      if (!UUID_PATTERN.test(requestId) || requestId === ZERO_UUID) throw invalid(`Invalid value for field 'requestId': '${requestId}'. Must be a non-zero UUID.`);
      // The same request again: its first operation, and nothing new.
      const first = this.requests.get(`${project}/${requestId}`);
      const earlier = first === undefined ? undefined : this.operations.get(first);
      if (earlier) return earlier.json;
    }
    const parsed = InstanceBody.safeParse(rawBody);
    if (!parsed.success) throw invalid(`Invalid value for field 'resource': ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const body = parsed.data;
    const key = instanceKey(project, zone, body.name);
    if (this.instances.has(key)) throw new GcpHttpError(409, 'alreadyExists', `The resource 'projects/${project}/zones/${zone}/instances/${body.name}' already exists`);
    const instanceType = lastSegment(body.machineType);
    const fault = this.faults.take({ region: regionOf(zone), zone, instance_type: instanceType });
    const id = resourceId();
    const operation = this.startOperation(project, zone, 'insert', body.name, id);
    if (requestId !== null) this.requests.set(`${project}/${requestId}`, operationKey(project, zone, operation.json.name));
    if (fault) {
      // No instance at all: GCP gave up before creating one.
      this.finish(operation, () => ({ errors: [fault === 'capacity' ? stockout(project, zone) : quotaExceeded(regionOf(zone))] }));
      return operation.json;
    }
    const instance: StoredInstance = { project, zone, id, body, status: 'PROVISIONING', creationTimestamp: new Date().toISOString() };
    this.instances.set(key, instance);
    this.finish(operation, () => {
      // Deleted while it was still being created: nothing to boot.
      if (this.instances.get(key) !== instance) return undefined;
      instance.status = 'RUNNING';
      const bootScript = body.metadata?.items?.find((item) => item.key === 'startup-script')?.value ?? '';
      this.host.boot(
        { id, name: body.name, region: regionOf(zone), zone, instance_type: instanceType, spot: body.scheduling?.provisioningModel === 'SPOT', tags: { ...(body.labels ?? {}) } },
        bootScript,
      );
      return undefined;
    });
    return operation.json;
  }

  private delete(project: string, zone: string, name: string): OperationJson {
    const instance = this.instance(project, zone, name);
    instance.status = 'STOPPING';
    const operation = this.startOperation(project, zone, 'delete', name, instance.id);
    this.finish(operation, async () => {
      await this.host.terminate(instance.id, 'deleted');
      this.instances.delete(instanceKey(project, zone, name));
      return undefined;
    });
    return operation.json;
  }

  /** What GCP does to a spot VM with `instanceTerminationAction: DELETE`: stop it, delete it, record why. */
  async preempt(vm: EmulatedVm): Promise<void> {
    const entry = [...this.instances.entries()].find(([, instance]) => instance.id === vm.id);
    await this.host.terminate(vm.id, 'preempted');
    if (!entry) return;
    const [key, instance] = entry;
    this.instances.delete(key);
    const operation = this.startOperation(instance.project, instance.zone, 'compute.instances.preempted', instance.body.name, instance.id);
    operation.json.statusMessage = 'Instance was preempted.';
    complete(operation.json);
  }

  private list(project: string, zone: string, filter: FilterTerm[]): unknown {
    const items = this.instancesIn(project, (instance) => instance.zone === zone, filter);
    return { kind: 'compute#instanceList', id: `projects/${project}/zones/${zone}/instances`, selfLink: `${this.zoneUrl(project, zone)}/instances`, ...(items.length > 0 ? { items } : {}) };
  }

  private aggregatedList(project: string, filter: FilterTerm[]): unknown {
    const items: Record<string, { instances: unknown[] }> = {};
    for (const instance of this.instancesIn(project, () => true, filter)) {
      (items[`zones/${lastSegment(instance.zone)}`] ??= { instances: [] }).instances.push(instance);
    }
    return { kind: 'compute#instanceAggregatedList', id: `projects/${project}/aggregated/instances`, selfLink: `${this.projectUrl(project)}/aggregated/instances`, items };
  }

  private listOperations(project: string, zone: string, filter: FilterTerm[]): unknown {
    const items = [...this.operations.values()].filter((op) => op.project === project && op.zone === zone && matchesFilter(op.json, filter)).map((op) => op.json);
    return { kind: 'compute#operationList', id: `projects/${project}/zones/${zone}/operations`, selfLink: `${this.zoneUrl(project, zone)}/operations`, ...(items.length > 0 ? { items } : {}) };
  }

  private async wait(operation: StoredOperation): Promise<OperationJson> {
    if (operation.json.status !== 'DONE') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([operation.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, WAIT_LIMIT_MS)))]);
      clearTimeout(timer);
    }
    return operation.json;
  }

  private instancesIn(project: string, where: (instance: StoredInstance) => boolean, filter: FilterTerm[]): InstanceJson[] {
    return [...this.instances.values()]
      .filter((instance) => instance.project === project && where(instance))
      .map((instance) => this.instanceJson(instance))
      .filter((json) => matchesFilter(json, filter));
  }

  private instance(project: string, zone: string, name: string): StoredInstance {
    const instance = this.instances.get(instanceKey(project, zone, name));
    if (!instance) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    return instance;
  }

  private operation(project: string, zone: string, name: string): StoredOperation {
    const operation = this.operations.get(operationKey(project, zone, name));
    if (!operation) throw notFound(`projects/${project}/zones/${zone}/operations/${name}`);
    return operation;
  }

  private instanceJson(instance: StoredInstance): InstanceJson {
    const zoneUrl = this.zoneUrl(instance.project, instance.zone);
    return {
      ...instance.body,
      kind: 'compute#instance',
      id: instance.id,
      zone: zoneUrl,
      machineType: `${zoneUrl}/machineTypes/${lastSegment(instance.body.machineType)}`,
      status: instance.status,
      creationTimestamp: instance.creationTimestamp,
      selfLink: `${zoneUrl}/instances/${instance.body.name}`,
      labels: { ...(instance.body.labels ?? {}) },
    };
  }

  private startOperation(project: string, zone: string, operationType: string, target: string, targetId: string): StoredOperation {
    const name = `operation-${Date.now()}-${randomBytes(6).toString('hex')}`;
    const zoneUrl = this.zoneUrl(project, zone);
    const now = new Date().toISOString();
    const json: OperationJson = {
      kind: 'compute#operation',
      id: resourceId(),
      name,
      zone: zoneUrl,
      operationType,
      targetLink: `${zoneUrl}/instances/${target}`,
      targetId,
      status: 'RUNNING',
      progress: 0,
      insertTime: now,
      startTime: now,
      selfLink: `${zoneUrl}/operations/${name}`,
      user: 'emulator@mlfleet.local',
    };
    const operation: StoredOperation = { project, zone, json, done: Promise.resolve() };
    this.operations.set(operationKey(project, zone, name), operation);
    return operation;
  }

  /** Runs `work` after the operation latency, then marks the operation DONE (with `work`'s error, if any). */
  private finish(operation: StoredOperation, work: () => OperationJson['error'] | Promise<OperationJson['error']>): void {
    operation.done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        Promise.resolve()
          .then(work)
          .catch((err: unknown) => ({ errors: [{ code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) }] }))
          .then((error) => {
            if (error) operation.json.error = error;
            complete(operation.json);
          })
          .finally(resolve)
          .catch(() => undefined);
      }, this.latencyMs);
      this.timers.add(timer);
    });
  }

  /** Forgets every instance, operation and request id; nothing scheduled runs any more. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.instances.clear();
    this.operations.clear();
    this.requests.clear();
  }

  private projectUrl(project: string): string {
    return `${this.baseUrl}/compute/v1/projects/${project}`;
  }

  private zoneUrl(project: string, zone: string): string {
    return `${this.projectUrl(project)}/zones/${zone}`;
  }
}

const operationKey = (project: string, zone: string, name: string): string => `${project}/${zone}/${name}`;

function complete(json: OperationJson): void {
  json.status = 'DONE';
  json.progress = 100;
  json.endTime = new Date().toISOString();
}

function stockout(project: string, zone: string): { code: string; message: string } {
  return {
    code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
    message: `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request. Try a different zone, or try again later.`,
  };
}

/** The request's JSON body ({} when empty), or GCE's 400 for a body that is not JSON. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return (await readJsonBody(req)) ?? {};
  } catch (err) {
    throw err instanceof InvalidJsonBody ? invalid('Invalid JSON payload received.') : err;
  }
}

function quotaExceeded(region: string): { code: string; message: string } {
  return { code: 'QUOTA_EXCEEDED', message: `Quota 'CPUS' exceeded. Limit: 0.0 in region ${region}.` };
}


function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, err: unknown): void {
  const error = err instanceof GcpHttpError ? err : new GcpHttpError(500, 'backendError', err instanceof Error ? err.message : String(err));
  send(res, error.status, { error: { code: error.status, message: error.message, errors: [{ message: error.message, domain: 'global', reason: error.reason }] } });
}

/** Starts the fake on 127.0.0.1 (`port`, or a free one) until `stop()`, which also kills every VM it booted. */
export async function startGcpEmulator({ root, port = 0, operationLatencyMs = DEFAULT_OPERATION_LATENCY_MS }: GcpEmulatorOptions): Promise<GcpEmulator> {
  const host = new VmHost(root, 'gcp');
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  // Every selfLink is absolute, so the API learns its own address before it answers anything.
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const compute = new GcpCompute(host, new FaultBook(), endpoint, operationLatencyMs);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      // The shared reset forgets the host's VMs and the faults; the instances and operations are ours to forget.
      if (req.method === 'POST' && new URL(req.url ?? '/', endpoint).pathname === `${CONTROL_PREFIX}/reset`) compute.clear();
      if (await handleControl(req, res, { host, faults: compute.faults, preempt: (vm) => compute.preempt(vm) })) return;
      await compute.route(req, res);
    })().catch((err: unknown) => sendError(res, err));
  });
  return {
    endpoint,
    async stop() {
      compute.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await host.reset();
    },
  };
}
