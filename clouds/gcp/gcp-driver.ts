import { InstancesClient, type protos, ZoneOperationsClient } from '@google-cloud/compute';
import { PassThroughClient } from 'google-auth-library';
import { ProvisionError } from '../provision-error';
import type { TaggedVm, VmDriver, VmRef, VmSpec, VmState } from '../vm-driver';
import { googleProvisionError, httpStatusOf, operationProvisionError } from './gcp-errors';
import { type BootDisk, firstZoneOf, instanceResource, regionOfZone } from './instance-resource';
import { gcpRequestId } from './request-id';

type Operation = protos.google.cloud.compute.v1.IOperation;
type ClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

// A plain image with bash; GPU stages pass an image with NVIDIA drivers (a Deep Learning VM family).
const DEFAULT_BOOT_DISK: BootDisk = { sourceImage: 'projects/debian-cloud/global/images/family/debian-12', sizeGb: 50 };

// A create or delete that has not finished by then is left to the caller's retry, which finds the same operation again.
const DEFAULT_OPERATION_TIMEOUT_MS = 10 * 60_000;

const PREEMPTED_OPERATION = 'compute.instances.preempted';

export interface GcpDriverOptions {
  project: string;
  /**
   * A local fake's base URL (`http://127.0.0.1:PORT`): the SDK talks to it without credentials.
   * Unset: compute.googleapis.com with Application Default Credentials.
   */
  emulatorEndpoint?: string;
  bootDisk?: BootDisk;
  operationTimeoutMs?: number;
}

function clientOptions({ project, emulatorEndpoint }: GcpDriverOptions): ClientOptions {
  if (emulatorEndpoint === undefined) return { projectId: project };
  const url = new URL(emulatorEndpoint);
  const protocol = url.protocol.replace(/:$/, '');
  return {
    projectId: project,
    apiEndpoint: url.hostname,
    // The SDK injects port 443 unless told otherwise, and that beats a port inside apiEndpoint.
    port: url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port),
    protocol,
    fallback: true,
    // Node's own fetch: the SDK's default (node-fetch) loads through a dynamic import(), which jest's VM sandbox refuses.
    authClient: new PassThroughClient({ transporterOptions: { fetchImplementation: fetch } }),
  };
}

/** Compute Engine instance status → how far the VM is from doing (or having done) its work. */
function stateOf(status: string): 'pending' | 'running' | 'gone' {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    default:
      // STOPPING, TERMINATED, SUSPENDING, SUSPENDED: a single-use stage VM never comes back from these.
      return 'gone';
  }
}

/**
 * {@link VmDriver} for Compute Engine through `@google-cloud/compute` (REST transport). A VM is
 * an instance named `spec.name` in one zone; its `vmId` is that name, since every instance call
 * takes the name. Spot VMs are `provisioningModel: SPOT` with `instanceTerminationAction: DELETE`,
 * so a preemption removes the instance and leaves a `compute.instances.preempted` operation.
 */
export class GcpDriver implements VmDriver {
  readonly cloud = 'gcp' as const;

  private readonly instances: InstancesClient;
  private readonly operations: ZoneOperationsClient;
  private readonly project: string;
  private readonly bootDisk: BootDisk;
  private readonly operationTimeoutMs: number;

  constructor(options: GcpDriverOptions) {
    const sdkOptions = clientOptions(options);
    this.instances = new InstancesClient(sdkOptions);
    this.operations = new ZoneOperationsClient(sdkOptions);
    this.project = options.project;
    this.bootDisk = options.bootDisk ?? DEFAULT_BOOT_DISK;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  async create(spec: VmSpec): Promise<VmRef> {
    const zone = spec.offer.zone ?? firstZoneOf(spec.offer.region);
    const ref: VmRef = { cloud: 'gcp', vmId: spec.name, region: spec.offer.region, zone };
    const body = instanceResource(spec, zone, this.bootDisk);
    let operation: Operation;
    try {
      const [insert] = await this.instances.insert({ project: this.project, zone, requestId: gcpRequestId(spec.idempotencyToken), instanceResource: body });
      operation = insert.latestResponse as Operation;
    } catch (err) {
      // The name is deterministic per stage attempt: an instance that already has it is the one an earlier call created.
      if (httpStatusOf(err) === 409) return ref;
      throw googleProvisionError(err);
    }
    let done: Operation;
    try {
      done = await this.untilDone(operation, zone);
    } catch (err) {
      throw googleProvisionError(err);
    }
    const errors = done.error?.errors ?? [];
    if (errors.length > 0) throw operationProvisionError(errors, zone);
    return ref;
  }

  async describe(vm: VmRef): Promise<VmState> {
    const zone = vm.zone ?? firstZoneOf(vm.region);
    let status = 'not found';
    try {
      const [instance] = await this.instances.get({ project: this.project, zone, instance: vm.vmId });
      status = String(instance.status);
      const state = stateOf(status);
      if (state !== 'gone') return { state };
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
    }
    const preempted = await this.wasPreempted(zone, vm.vmId);
    return { state: 'gone', preempted, reason: preempted ? `preempted by GCP (${PREEMPTED_OPERATION})` : `instance ${vm.vmId} in ${zone}: ${status}` };
  }

  async terminate(vm: VmRef): Promise<void> {
    const zone = vm.zone ?? firstZoneOf(vm.region);
    let operation: Operation;
    try {
      // No requestId: a retried delete of a gone instance is a 404, which is success already.
      const [deletion] = await this.instances.delete({ project: this.project, zone, instance: vm.vmId });
      operation = deletion.latestResponse as Operation;
    } catch (err) {
      if (httpStatusOf(err) === 404) return;
      throw err;
    }
    const done = await this.untilDone(operation, zone);
    // Someone else (the spot market, a reaper) deleted it meanwhile: it is gone, as asked.
    const errors = (done.error?.errors ?? []).filter((e) => e.code !== 'RESOURCE_NOT_FOUND');
    if (errors.length > 0) throw new Error(`GCP delete of ${vm.vmId} in ${zone} failed: ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  }

  async listTagged(key: string, regions: readonly string[], value?: string): Promise<TaggedVm[]> {
    // Keys and values are `[a-z0-9_-]` (VmSpec.tags), so they need no escaping inside the filter.
    const filter = value === undefined ? `labels.${key}:*` : `labels.${key}="${value}"`;
    const wanted = new Set(regions);
    const found: TaggedVm[] = [];
    // One aggregated call sees every zone of every region, not only the zones we would have guessed.
    const pages = this.instances.aggregatedListAsync({ project: this.project, filter }, { autoPaginate: false });
    for await (const [scope, scoped] of pages) {
      const zone = scope.replace(/^zones\//, '');
      const region = regionOfZone(zone);
      if (!wanted.has(region)) continue;
      for (const instance of scoped.instances ?? []) {
        const state = stateOf(String(instance.status));
        const name = instance.name ?? '';
        // A stopped instance still holds its disk and its name: the reaper must still delete it.
        found.push({ cloud: 'gcp', vmId: name, name, region, zone, state: state === 'gone' ? 'stopping' : state, tags: { ...(instance.labels ?? {}) } });
      }
    }
    return found;
  }

  async close(): Promise<void> {
    await Promise.all([this.instances.close(), this.operations.close()]);
  }

  /** Waits on a zone operation (each `wait` call returns when it is DONE or after about two minutes). */
  private async untilDone(operation: Operation, zone: string): Promise<Operation> {
    const deadline = Date.now() + this.operationTimeoutMs;
    let current = operation;
    while (String(current.status) !== 'DONE') {
      if (Date.now() > deadline) {
        throw new ProvisionError('retry', 'mlfleet.OperationTimeout', `GCP operation ${current.name} in ${zone} was not done after ${this.operationTimeoutMs} ms`);
      }
      [current] = await this.operations.wait({ project: this.project, zone, operation: current.name ?? '' });
    }
    return current;
  }

  private async wasPreempted(zone: string, name: string): Promise<boolean> {
    const operations = this.operations.listAsync({ project: this.project, zone, filter: `operationType="${PREEMPTED_OPERATION}"` }, { autoPaginate: false });
    for await (const operation of operations) if (operation.targetLink?.endsWith(`/instances/${name}`)) return true;
    return false;
  }
}
