import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { CONTROL_PREFIX, handleControl } from './control';
import { FaultBook } from './faults';
import { createSelfSignedCertificate } from './tls';
import { type EmulatedVm, VmHost } from './vm-host';
import { readJsonBody } from './request-body';

// How long a create or delete stays InProgress: long enough that a poller sees it, short for tests.
const OPERATION_MS = 150;

const VM_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines(?:\/([^/]+))?$/i;
const SUBSCRIPTION_VMS_PATH = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines$/i;
const OPERATION_PATH = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/operations\/([^/]+)$/i;

/** The part of a VM PUT body the fake reads; everything else is stored and echoed as sent. */
const VmPutBody = z.looseObject({
  location: z.string().min(1),
  zones: z.array(z.string().min(1)).max(1).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  properties: z.looseObject({
    hardwareProfile: z.looseObject({ vmSize: z.string().min(1) }),
    priority: z.enum(['Regular', 'Low', 'Spot']).optional(),
    evictionPolicy: z.enum(['Deallocate', 'Delete']).optional(),
    billingProfile: z.looseObject({ maxPrice: z.number().optional() }).optional(),
    osProfile: z.looseObject({ customData: z.base64().optional() }).optional(),
  }),
});
type VmPutBody = z.infer<typeof VmPutBody>;

type ProvisioningState = 'Creating' | 'Succeeded' | 'Failed' | 'Deleting';

interface ArmError {
  code: string;
  message: string;
}

interface ArmVm {
  key: string;
  id: string;
  name: string;
  resourceGroup: string;
  subscription: string;
  location: string;
  zones?: string[];
  tags: Record<string, string>;
  /** As sent, without customData: Azure never returns it. */
  properties: Record<string, unknown>;
  vmId: string;
  timeCreated: string;
  provisioningState: ProvisioningState;
  /** Why provisioning failed, shown in the instance view as Azure does. */
  failure?: ArmError;
  /** The create or delete operation under way. */
  operation?: ArmOperation;
}

interface ArmOperation {
  id: string;
  location: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  startTime: string;
  endTime?: string;
  error?: ArmError;
  timer?: NodeJS.Timeout;
}

export interface AzureEmulator {
  /** `https://127.0.0.1:<port>`: the ARM endpoint and, under /_emulator, the control API. */
  endpoint: string;
  /** The PEM a client must trust to reach `endpoint`. */
  ca: string;
  stop(): Promise<void>;
}

/**
 * A local fake of the Azure Resource Manager virtual-machine API, over HTTPS with a self-signed
 * certificate (the Azure SDK sends bearer tokens over TLS only). It serves what
 * @azure/arm-compute sends for VMs: PUT (201 + `Azure-AsyncOperation`), GET (with
 * `$expand=instanceView`), DELETE (202 + `Azure-AsyncOperation`, 204 when absent), the list in a
 * resource group and in the subscription, and the async operation status. Any api-version is
 * accepted. A VM boots by running its `osProfile.customData` in a {@link VmHost}.
 *
 * Faults from the control API: `quota` fails the PUT with 409 `OperationNotAllowed` (a quota
 * message). `capacity` with a zone fails through the async operation with
 * `ZonalAllocationFailed`; without a zone it alternates, starting afresh after a reset, between
 * 409 `SkuNotAvailable` on the PUT and `AllocationFailed` through the operation, the two ways
 * Azure reports a regional stockout. As in Azure, a VM whose allocation failed stays behind in
 * provisioningState `Failed` until it is deleted. `preempt` evicts a Spot VM the way
 * `evictionPolicy: Delete` does: its processes stop and the VM is deleted (GET answers 404).
 */
export async function startAzureEmulator(options: { root: string; port?: number }): Promise<AzureEmulator> {
  const { cert, key } = await createSelfSignedCertificate(join(options.root, 'tls'));
  const host = new VmHost(join(options.root, 'vms'), 'azure');
  const faults = new FaultBook();
  const vms = new Map<string, ArmVm>();
  const operations = new Map<string, ArmOperation>();
  let regionalStockouts = 0;
  let endpoint = '';

  const vmKey = (subscription: string, resourceGroup: string, name: string): string => `${subscription}/${resourceGroup}/${name}`.toLowerCase();

  function startOperation(vm: ArmVm, apiVersion: string, finish: (op: ArmOperation) => Promise<void> | void): string {
    const op: ArmOperation = { id: randomUUID(), location: vm.location, status: 'InProgress', startTime: new Date().toISOString() };
    op.timer = setTimeout(() => {
      delete op.timer;
      Promise.resolve()
        .then(() => finish(op))
        .catch((err: unknown) => {
          op.status = 'Failed';
          op.error = { code: 'InternalExecutionError', message: err instanceof Error ? err.message : String(err) };
        })
        .finally(() => (op.endTime = new Date().toISOString()));
    }, OPERATION_MS);
    operations.set(op.id, op);
    vm.operation = op;
    return operationUrl(vm, op, apiVersion);
  }

  const operationUrl = (vm: ArmVm, op: ArmOperation, apiVersion: string): string =>
    `${endpoint}/subscriptions/${vm.subscription}/providers/Microsoft.Compute/locations/${vm.location}/operations/${op.id}?api-version=${encodeURIComponent(apiVersion)}`;

  function cancelOperation(vm: ArmVm): void {
    const op = vm.operation;
    if (op?.status !== 'InProgress') return;
    clearTimeout(op.timer);
    op.status = 'Canceled';
    op.endTime = new Date().toISOString();
  }

  /** The fault this create meets, as Azure would report it, and whether it comes through the operation. */
  function faultFor(body: VmPutBody, spot: boolean): { error: ArmError; async: boolean } | undefined {
    const zone = body.zones?.[0] ?? null;
    const vmSize = body.properties.hardwareProfile.vmSize;
    const kind = faults.take({ region: body.location, zone, instance_type: vmSize });
    if (kind === 'quota') {
      const quota = spot ? 'LowPriorityCores' : `${vmSize} family Cores`;
      const message = `Operation could not be completed as it results in exceeding approved ${quota} quota. Additional details - Location: ${body.location}, Current Limit: 0, Current Usage: 0.`;
      return { error: { code: 'OperationNotAllowed', message }, async: false };
    }
    if (kind !== 'capacity') return undefined;
    if (zone !== null) {
      const message = `Allocation failed. We do not have sufficient capacity for the requested VM size ${vmSize} in zone ${zone} of ${body.location}.`;
      return { error: { code: 'ZonalAllocationFailed', message }, async: true };
    }
    regionalStockouts += 1;
    if (regionalStockouts % 2 === 1) {
      const message = `The requested VM size ${vmSize} is currently not available in location '${body.location}'. Please try another size or deploy to a different location or different zone.`;
      return { error: { code: 'SkuNotAvailable', message }, async: false };
    }
    return { error: { code: 'AllocationFailed', message: `Allocation failed. We do not have sufficient capacity for the requested VM size ${vmSize} in ${body.location}.` }, async: true };
  }

  function boot(vm: ArmVm, body: VmPutBody): void {
    const customData = body.properties.osProfile?.customData;
    host.boot(
      {
        id: vm.vmId,
        name: vm.name,
        region: vm.location,
        zone: vm.zones?.[0] ?? null,
        instance_type: body.properties.hardwareProfile.vmSize,
        spot: isSpot(vm),
        tags: vm.tags,
      },
      customData === undefined ? '' : Buffer.from(customData, 'base64').toString('utf8'),
    );
  }

  function putVm(res: ServerResponse, ids: VmIds, apiVersion: string, raw: unknown): void {
    const parsed = VmPutBody.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return armError(res, 400, 'InvalidParameter', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    const body = parsed.data;
    const spot = body.properties.priority === 'Spot' || body.properties.priority === 'Low';
    if (body.properties.evictionPolicy !== undefined && !spot) {
      return armError(res, 400, 'EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines', 'Eviction policy can be set only on Azure Spot Virtual Machines.');
    }
    const maxPrice = body.properties.billingProfile?.maxPrice;
    if (maxPrice !== undefined && maxPrice !== -1 && !(maxPrice > 0)) {
      return armError(res, 400, 'MaxPriceValueInvalid', 'Only supported values for max price are -1 or decimal values greater than zero.');
    }
    const key = vmKey(ids.subscription, ids.resourceGroup, ids.name);
    const existing = vms.get(key);
    if (existing?.provisioningState === 'Deleting') {
      return armError(res, 409, 'OperationNotAllowed', `Operation 'PUT' is not allowed on VM '${ids.name}' since the VM is marked for deletion.`);
    }
    // A PUT of a VM that exists is the idempotent create: nothing new is allocated or booted.
    if (existing && existing.provisioningState !== 'Failed') {
      const op = existing.operation;
      const headers: Record<string, string> = existing.provisioningState === 'Creating' && op ? { 'azure-asyncoperation': operationUrl(existing, op, apiVersion) } : {};
      return json(res, 200, vmBody(existing), headers);
    }
    const fault = faultFor(body, spot);
    if (fault && !fault.async) return armError(res, 409, fault.error.code, fault.error.message);

    const { customData: _secret, ...osProfile } = body.properties.osProfile ?? {};
    const vm: ArmVm = {
      key,
      id: `/subscriptions/${ids.subscription}/resourceGroups/${ids.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${ids.name}`,
      name: ids.name,
      resourceGroup: ids.resourceGroup,
      subscription: ids.subscription,
      location: body.location,
      ...(body.zones ? { zones: body.zones } : {}),
      tags: body.tags ?? {},
      properties: { ...body.properties, ...(body.properties.osProfile ? { osProfile } : {}) },
      vmId: randomUUID(),
      timeCreated: new Date().toISOString(),
      provisioningState: 'Creating',
    };
    vms.set(key, vm);
    const asyncOperation = startOperation(vm, apiVersion, (op) => {
      if (fault) {
        vm.provisioningState = 'Failed';
        vm.failure = fault.error;
        op.status = 'Failed';
        op.error = fault.error;
        return;
      }
      boot(vm, body);
      vm.provisioningState = 'Succeeded';
      op.status = 'Succeeded';
    });
    json(res, 201, vmBody(vm), { 'azure-asyncoperation': asyncOperation });
  }

  function deleteVm(res: ServerResponse, ids: VmIds, apiVersion: string): void {
    const vm = vms.get(vmKey(ids.subscription, ids.resourceGroup, ids.name));
    if (!vm) {
      res.writeHead(204).end();
      return;
    }
    if (vm.provisioningState === 'Deleting' && vm.operation) {
      return json(res, 202, {}, { 'azure-asyncoperation': operationUrl(vm, vm.operation, apiVersion) });
    }
    cancelOperation(vm);
    vm.provisioningState = 'Deleting';
    const asyncOperation = startOperation(vm, apiVersion, async (op) => {
      await host.terminate(vm.vmId, 'deleted');
      vms.delete(vm.key);
      op.status = 'Succeeded';
    });
    json(res, 202, {}, { 'azure-asyncoperation': asyncOperation });
  }

  /** Azure's eviction of a Spot VM with `evictionPolicy: Delete`: processes stopped, VM deleted. */
  async function evict(hostVm: EmulatedVm): Promise<void> {
    const vm = [...vms.values()].find((candidate) => candidate.vmId === hostVm.id);
    if (!vm || !isSpot(vm) || vm.properties.evictionPolicy !== 'Delete') {
      throw new Error(`${hostVm.name} is not a Spot VM with evictionPolicy Delete: Azure would not evict it that way`);
    }
    cancelOperation(vm);
    await host.terminate(hostVm.id, 'preempted');
    vms.delete(vm.key);
  }

  function forget(): void {
    for (const vm of vms.values()) cancelOperation(vm);
    vms.clear();
    operations.clear();
    regionalStockouts = 0;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', endpoint);
    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      if (req.method === 'POST' && url.pathname === `${CONTROL_PREFIX}/reset`) forget();
      await handleControl(req, res, { host, faults, preempt: evict });
      return;
    }
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) return armError(res, 400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    const method = req.method ?? 'GET';

    const operation = OPERATION_PATH.exec(url.pathname);
    if (operation && method === 'GET') {
      const op = operations.get(operation[3] ?? '');
      if (!op) return armError(res, 404, 'NotFound', `The operation '${operation[3] ?? ''}' was not found.`);
      const { timer: _timer, id, ...status } = op;
      return json(res, 200, { name: id, ...status });
    }

    const subscriptionList = SUBSCRIPTION_VMS_PATH.exec(url.pathname);
    if (subscriptionList && method === 'GET') {
      const subscription = (subscriptionList[1] ?? '').toLowerCase();
      return json(res, 200, { value: [...vms.values()].filter((vm) => vm.subscription.toLowerCase() === subscription).map((vm) => vmBody(vm)) });
    }

    const match = VM_PATH.exec(url.pathname);
    if (!match) return armError(res, 404, 'InvalidResourceType', `The fake serves no ${method} ${url.pathname}.`);
    const [, subscription = '', resourceGroup = '', name] = match;
    if (name === undefined) {
      if (method !== 'GET') return armError(res, 405, 'MethodNotAllowed', `${method} is not supported on a VM collection.`);
      const prefix = `${subscription}/${resourceGroup}/`.toLowerCase();
      return json(res, 200, { value: [...vms.values()].filter((vm) => vm.key.startsWith(prefix)).map((vm) => vmBody(vm)) });
    }
    const ids: VmIds = { subscription, resourceGroup, name };
    switch (method) {
      case 'PUT':
        return putVm(res, ids, apiVersion, await readJsonBody(req).catch(() => undefined));
      case 'DELETE':
        return deleteVm(res, ids, apiVersion);
      case 'GET': {
        const vm = vms.get(vmKey(subscription, resourceGroup, name));
        if (!vm) {
          return armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.Compute/virtualMachines/${name}' under resource group '${resourceGroup}' was not found.`);
        }
        return json(res, 200, vmBody(vm, url.searchParams.get('$expand') === 'instanceView'));
      }
      default:
        return armError(res, 405, 'MethodNotAllowed', `${method} is not supported on a VM.`);
    }
  }

  const server: Server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((err: unknown) => armError(res, 500, 'InternalServerError', err instanceof Error ? err.message : String(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    ca: cert,
    async stop() {
      forget();
      await host.reset();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The SDK keeps connections alive; close() alone would wait for them.
        server.closeAllConnections();
      });
    },
  };
}

interface VmIds {
  subscription: string;
  resourceGroup: string;
  name: string;
}

const isSpot = (vm: ArmVm): boolean => vm.properties.priority === 'Spot' || vm.properties.priority === 'Low';

/** The VM as ARM returns it; the instance view only when asked for. */
function vmBody(vm: ArmVm, withInstanceView = false): unknown {
  return {
    id: vm.id,
    name: vm.name,
    type: 'Microsoft.Compute/virtualMachines',
    location: vm.location,
    ...(vm.zones ? { zones: vm.zones } : {}),
    tags: vm.tags,
    properties: {
      ...vm.properties,
      vmId: vm.vmId,
      timeCreated: vm.timeCreated,
      provisioningState: vm.provisioningState,
      ...(withInstanceView ? { instanceView: { statuses: instanceStatuses(vm) } } : {}),
    },
  };
}

/** Azure's status pair: `ProvisioningState/<state>[/<error code>]` and, while allocated, `PowerState/<state>`. */
function instanceStatuses(vm: ArmVm): unknown[] {
  switch (vm.provisioningState) {
    case 'Creating':
      return [status('ProvisioningState/creating', 'Info', 'Creating'), status('PowerState/starting', 'Info', 'VM starting')];
    case 'Succeeded':
      return [status('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded'), status('PowerState/running', 'Info', 'VM running')];
    case 'Deleting':
      return [status('ProvisioningState/deleting', 'Info', 'Deleting'), status('PowerState/stopping', 'Info', 'VM stopping')];
    case 'Failed':
      return [{ ...status(`ProvisioningState/failed/${vm.failure?.code ?? 'InternalExecutionError'}`, 'Error', 'Provisioning failed'), message: vm.failure?.message }];
  }
}

const status = (code: string, level: 'Info' | 'Error', displayStatus: string) => ({ code, level, displayStatus, time: new Date().toISOString() });


function json(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function armError(res: ServerResponse, statusCode: number, code: string, message: string): void {
  json(res, statusCode, { error: { code, message } });
}
