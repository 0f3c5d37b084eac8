import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { ProvisionError } from '../provision-error';
import type { TaggedVm, VmDriver, VmRef, VmSpec, VmState } from '../vm-driver';
import { AzureConfig, type AzureConfigInput } from './azure-config';
import { azureFailure, classifyAzureError, isAzureNotFound } from './azure-errors';

// Required by ARM whenever a VM declares its NICs inline (networkInterfaceConfigurations).
const NETWORK_API_VERSION = '2020-11-01';

/**
 * Stage VMs on Azure through @azure/arm-compute: Spot with `evictionPolicy: Delete` and no price
 * cap, OS disk and NIC deleted with the VM, tagged for the reaper. Azure has no idempotency
 * token: the VM name (the spec's deterministic name) is the key, and a create that finds the VM
 * adopts it.
 *
 * An evicted Spot VM is deleted by Azure, so its GET answers 404 exactly as after our own delete;
 * the compute API keeps no trace of why. The driver therefore remembers which VMs it saw to be
 * Spot and which it deleted, and reports a 404 of a Spot VM it did not delete as a preemption.
 * What it has not seen since the worker started (a VM already gone on first sight) is reported
 * gone without preemption.
 */
export class AzureDriver implements VmDriver {
  readonly cloud = 'azure';

  private readonly config: AzureConfig;
  private readonly client: ComputeManagementClient;
  private readonly spotVms = new Map<string, boolean>();
  private readonly deletedByUs = new Set<string>();

  constructor(config: AzureConfigInput, credential: TokenCredential = new DefaultAzureCredential()) {
    this.config = AzureConfig.parse(config);
    this.client = new ComputeManagementClient(credential, this.config.subscriptionId, {
      ...(this.config.endpoint ? { endpoint: this.config.endpoint } : {}),
      ...(this.config.ca ? { tlsOptions: { ca: this.config.ca } } : {}),
    });
  }

  async create(spec: VmSpec): Promise<VmRef> {
    const ref: VmRef = { cloud: 'azure', vmId: spec.name, region: spec.offer.region, zone: spec.offer.zone };
    const zoneRequested = spec.offer.zone !== null;
    this.spotVms.set(spec.name, spec.spot);

    const existing = await this.find(spec.name).catch((err: unknown) => {
      throw classifyAzureError(err, { zoneRequested });
    });
    if (existing && (await this.adopted(existing, ref))) return this.created(ref);

    try {
      const poller = this.client.virtualMachines.createOrUpdate(this.config.resourceGroup, spec.name, this.vmModel(spec), {
        updateIntervalInMs: this.config.pollIntervalMs,
      });
      await poller.pollUntilDone();
      return this.created(ref);
    } catch (err) {
      const failure = classifyAzureError(err, { zoneRequested });
      // A failed allocation leaves the VM behind in provisioningState Failed: remove it before
      // failing over. A transient error may have hit a VM being created fine: the retry adopts it.
      if (failure.scope !== 'retry') await this.removeFailed(ref, failure);
      throw failure;
    }
  }

  async describe(vm: VmRef): Promise<VmState> {
    const found = await this.find(vm.vmId);
    if (!found) return this.vanished(vm.vmId, 'the VM no longer exists');
    if (found.priority !== undefined) this.spotVms.set(vm.vmId, found.priority === 'Spot');
    switch (found.provisioningState) {
      case 'Creating':
        return { state: 'pending' };
      case 'Deleting':
        return this.vanished(vm.vmId, 'the VM is being deleted');
      case 'Failed':
        return { state: 'gone', preempted: false, reason: `provisioning failed: ${provisioningFailure(found) ?? 'no detail'}` };
      default: {
        const power = powerState(found);
        if (power === undefined || power === 'running') return { state: 'running' };
        if (power === 'starting') return { state: 'pending' };
        // Stopped or deallocated: it runs nothing, and our Spot VMs are deleted, never deallocated, on eviction.
        return { state: 'gone', preempted: false, reason: `the VM is ${power}` };
      }
    }
  }

  async terminate(vm: VmRef): Promise<void> {
    // Recorded first, so that a describe racing with the delete does not take it for an eviction.
    this.deletedByUs.add(vm.vmId);
    try {
      await this.client.virtualMachines.delete(this.config.resourceGroup, vm.vmId, { updateIntervalInMs: this.config.pollIntervalMs }).pollUntilDone();
    } catch (err) {
      if (!isAzureNotFound(err)) throw err;
    }
  }

  async listTagged(key: string, regions: readonly string[], value?: string): Promise<TaggedVm[]> {
    const wanted = new Set(regions.map((region) => region.toLowerCase()));
    const tagged: TaggedVm[] = [];
    for await (const vm of this.client.virtualMachines.list(this.config.resourceGroup)) {
      const tags = vm.tags ?? {};
      if (!Object.prototype.hasOwnProperty.call(tags, key) || (value !== undefined && tags[key] !== value)) continue;
      if (!wanted.has(vm.location.toLowerCase()) || vm.name === undefined) continue;
      tagged.push({
        cloud: 'azure',
        vmId: vm.name,
        name: vm.name,
        region: vm.location,
        zone: vm.zones?.[0] ?? null,
        // A VM whose allocation failed still exists until deleted: the reaper must see it.
        state: vm.provisioningState === 'Deleting' ? 'stopping' : vm.provisioningState === 'Succeeded' ? 'running' : 'pending',
        tags,
      });
    }
    return tagged;
  }

  /** The ARM model of a stage VM; `customData` carries the boot script for cloud-init. */
  private vmModel(spec: VmSpec): VirtualMachine {
    const { adminUsername } = this.config;
    return {
      location: spec.offer.region,
      ...(spec.offer.zone === null ? {} : { zones: [spec.offer.zone] }),
      tags: { ...spec.tags, name: spec.name },
      hardwareProfile: { vmSize: spec.offer.instance_type },
      ...(spec.spot ? { priority: 'Spot', evictionPolicy: 'Delete', billingProfile: { maxPrice: -1 } } : { priority: 'Regular' }),
      storageProfile: {
        imageReference: this.config.image,
        osDisk: { createOption: 'FromImage', deleteOption: 'Delete', managedDisk: { storageAccountType: 'StandardSSD_LRS' } },
      },
      osProfile: {
        computerName: spec.name,
        adminUsername,
        customData: Buffer.from(spec.bootScript, 'utf8').toString('base64'),
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          ssh: { publicKeys: [{ path: `/home/${adminUsername}/.ssh/authorized_keys`, keyData: this.config.sshPublicKey }] },
        },
      },
      networkProfile: {
        networkApiVersion: NETWORK_API_VERSION,
        networkInterfaceConfigurations: [
          {
            name: `${spec.name}-nic`,
            primary: true,
            deleteOption: 'Delete',
            ipConfigurations: [{ name: 'primary', subnet: { id: this.config.subnetId } }],
          },
        ],
      },
    };
  }

  /** The VM with its instance view (power state, provisioning failure), or undefined when Azure has none. */
  private async find(name: string): Promise<VirtualMachine | undefined> {
    try {
      return await this.client.virtualMachines.get(this.config.resourceGroup, name, { expand: 'instanceView' });
    } catch (err) {
      if (isAzureNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Adopts a VM an earlier call created: true once it is provisioned. False when it must be created
   * anew: it vanished, is being deleted, or its provisioning failed (it is deleted first, since
   * Azure keeps a failed VM).
   */
  private async adopted(existing: VirtualMachine, ref: VmRef): Promise<boolean> {
    let vm: VirtualMachine | undefined = existing;
    while (vm?.provisioningState === 'Creating') {
      await new Promise((resolve) => setTimeout(resolve, this.config.pollIntervalMs));
      vm = await this.find(ref.vmId);
    }
    if (vm?.provisioningState === 'Failed') {
      await this.terminate(ref);
      return false;
    }
    return vm !== undefined && vm.provisioningState !== 'Deleting';
  }

  /** The VM is ours and alive: whatever deleted an earlier VM of this name, its 404 now would be news. */
  private created(ref: VmRef): VmRef {
    this.deletedByUs.delete(ref.vmId);
    return ref;
  }

  /** Deletes what a failed create left behind; a failed cleanup is told in the error, not hidden. */
  private async removeFailed(ref: VmRef, failure: ProvisionError): Promise<void> {
    try {
      await this.terminate(ref);
    } catch (err) {
      failure.message += ` (and deleting the failed VM ${ref.vmId} failed: ${azureFailure(err).message}; its lease and the reaper will retry)`;
    }
  }

  private vanished(vmId: string, why: string): VmState {
    if (this.deletedByUs.has(vmId)) return { state: 'gone', preempted: false, reason: `${why}: deleted by mlfleet` };
    if (this.spotVms.get(vmId) === true) return { state: 'gone', preempted: true, reason: `${why}: Azure evicted the Spot VM` };
    return { state: 'gone', preempted: false, reason: `${why}: deleted outside mlfleet` };
  }
}

/** Why provisioning failed, from Azure's `ProvisioningState/failed/<code>` instance-view status. */
function provisioningFailure(vm: VirtualMachine): string | undefined {
  const status = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('ProvisioningState/failed'));
  return status && `${status.code?.split('/')[2] ?? 'unknown'}: ${status.message ?? status.displayStatus ?? ''}`;
}

/** `PowerState/<state>` from the instance view: running, starting, stopping, stopped, deallocating, deallocated. */
function powerState(vm: VirtualMachine): string | undefined {
  return vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
}
