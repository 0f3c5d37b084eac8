import type { VmCloud } from '../domain/clouds';
import type { Offer } from '../domain/offer';

/** Everything a cloud needs to create one stage VM, derived deterministically from the stage. */
export interface VmSpec {
  /** Cloud-safe and deterministic (stage workflow id + attempt): a retried create finds the same VM. */
  name: string;
  /** The cloud's idempotency token (EC2 `ClientToken`, GCP `requestId` as a UUID); same inputs, same token. */
  idempotencyToken: string;
  /** Region, zone (null: the driver picks the region's first zone) and instance type come from here. */
  offer: Offer;
  spot: boolean;
  /** A bash script the VM runs at boot; each driver encodes it the way its cloud wants. */
  bootScript: string;
  /** Leak-detection tags/labels; keys and values are already lowercase `[a-z0-9_-]`. */
  tags: Record<string, string>;
}

/** Where a VM lives: enough to describe or delete it again. */
/** The clouds that run stage VMs (every cloud but the local machine). */
export type { VmCloud };

export interface VmRef {
  cloud: VmCloud;
  /** The cloud's id: EC2 instance id, GCP instance name, Azure VM name. */
  vmId: string;
  region: string;
  zone: string | null;
}

export type VmState =
  | { state: 'pending' | 'running' }
  /** Gone for good: deleted, terminated, or (`preempted`) reclaimed by the cloud's spot market. */
  | { state: 'gone'; preempted: boolean; reason: string };

export interface TaggedVm extends VmRef {
  name: string;
  state: 'pending' | 'running' | 'stopping';
  tags: Record<string, string>;
}

/**
 * One cloud's VM calls through its real SDK. Stateless: leases, retries and failover live above
 * it. Every method classifies failures as {@link ProvisionError} (create) or rethrows (others).
 */
export interface VmDriver {
  readonly cloud: VmRef['cloud'];
  /** Creates the VM (or finds the one an earlier call with the same spec created) and returns once the cloud accepted it. */
  create(spec: VmSpec): Promise<VmRef>;
  describe(vm: VmRef): Promise<VmState>;
  /** Idempotent: deleting a VM that is already gone succeeds. Waits until the cloud accepted the deletion. */
  terminate(vm: VmRef): Promise<void>;
  /** Every live VM carrying `tags[key]` (any value when `value` is omitted), in the given regions. */
  listTagged(key: string, regions: readonly string[], value?: string): Promise<TaggedVm[]>;
}
