import {
  DescribeInstancesCommand,
  EC2Client,
  type EC2ClientConfig,
  type Instance,
  paginateDescribeInstances,
  RunInstancesCommand,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ProvisionError } from '../provision-error';
import type { TaggedVm, VmDriver, VmRef, VmSpec, VmState } from '../vm-driver';
import { classifyEc2Error, ec2ErrorCode } from './aws-errors';

// The state reason EC2 gives an instance its spot market reclaimed.
const SPOT_RECLAIM_REASON = 'Server.SpotInstanceTermination';

// Not yet terminating: what a leak sweep must still find (shutting-down is a deletion already accepted).
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;
type LiveState = (typeof LIVE_STATES)[number];
const isLive = (state: string | undefined): state is LiveState => (LIVE_STATES as readonly (string | undefined)[]).includes(state);

export interface AwsDriverOptions {
  /** The AMI to boot, per region (AMI ids are regional). A region without one cannot be placed on. */
  imageIds: Readonly<Record<string, string>>;
  /** An EC2-compatible endpoint (the emulator); the region's AWS endpoint when omitted. */
  endpoint?: string;
  /** The SDK's default credential chain when omitted. */
  credentials?: EC2ClientConfig['credentials'];
}

/** EC2 VMs through @aws-sdk/client-ec2: one-time spot or on-demand, tagged, booted from user data. */
export class AwsVmDriver implements VmDriver {
  readonly cloud = 'aws';

  private readonly clients = new Map<string, EC2Client>();

  constructor(private readonly options: AwsDriverOptions) {}

  /** One client per region, kept for the driver's life. */
  private client(region: string): EC2Client {
    let client = this.clients.get(region);
    if (!client) {
      client = new EC2Client({
        region,
        // Temporal owns retries: the SDK would otherwise retry InsufficientInstanceCapacity (an HTTP 500) in place.
        maxAttempts: 1,
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      });
      this.clients.set(region, client);
    }
    return client;
  }

  async create(spec: VmSpec): Promise<VmRef> {
    const { region, zone, instance_type } = spec.offer;
    const imageId = this.options.imageIds[region];
    // A configuration gap, not a cloud answer: this region cannot be used, others may.
    if (!imageId) throw new ProvisionError('region', 'mlfleet.NoImageForRegion', `no AMI configured for ${region}`);
    let instance: Instance | undefined;
    try {
      const reply = await this.client(region).send(
        new RunInstancesCommand({
          // The same token returns the instance an earlier call made, so a retried activity never launches twice.
          ClientToken: spec.idempotencyToken,
          ImageId: imageId,
          InstanceType: instance_type as RunInstancesCommand['input']['InstanceType'],
          MinCount: 1,
          MaxCount: 1,
          ...(zone ? { Placement: { AvailabilityZone: zone } } : {}),
          ...(spec.spot
            ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } } }
            : {}),
          // A boot script that ends in `shutdown` then removes its VM instead of leaving it stopped.
          InstanceInitiatedShutdownBehavior: 'terminate',
          TagSpecifications: [{ ResourceType: 'instance', Tags: toTags({ ...spec.tags, Name: spec.name }) }],
          UserData: Buffer.from(spec.bootScript, 'utf8').toString('base64'),
        }),
      );
      instance = reply.Instances?.[0];
    } catch (err) {
      throw classifyEc2Error(err);
    }
    // Safe to retry: the ClientToken finds whatever this call did launch.
    if (!instance?.InstanceId) throw new ProvisionError('retry', 'mlfleet.NoInstanceInAnswer', `EC2 RunInstances for ${spec.name} answered without an instance`);
    return { cloud: 'aws', vmId: instance.InstanceId, region, zone: instance.Placement?.AvailabilityZone ?? zone };
  }

  async describe(vm: VmRef): Promise<VmState> {
    let instance: Instance | undefined;
    try {
      const reply = await this.client(vm.region).send(new DescribeInstancesCommand({ InstanceIds: [vm.vmId] }));
      instance = reply.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === vm.vmId);
    } catch (err) {
      if (ec2ErrorCode(err) !== 'InvalidInstanceID.NotFound') throw err;
    }
    // EC2 forgets terminated instances after about an hour.
    if (!instance) return { state: 'gone', preempted: false, reason: `instance ${vm.vmId} not found` };
    const state = instance.State?.Name;
    if (state === 'pending' || state === 'running') return { state };
    const preempted = instance.StateReason?.Code === SPOT_RECLAIM_REASON;
    return { state: 'gone', preempted, reason: `${state ?? 'unknown state'}: ${instance.StateReason?.Message ?? instance.StateTransitionReason ?? 'no reason given'}` };
  }

  async terminate(vm: VmRef): Promise<void> {
    try {
      await this.client(vm.region).send(new TerminateInstancesCommand({ InstanceIds: [vm.vmId] }));
    } catch (err) {
      if (ec2ErrorCode(err) !== 'InvalidInstanceID.NotFound') throw err;
    }
  }

  async listTagged(key: string, regions: readonly string[], value?: string): Promise<TaggedVm[]> {
    const found: TaggedVm[] = [];
    for (const region of regions) {
      const filters = [
        value === undefined ? { Name: 'tag-key', Values: [key] } : { Name: `tag:${key}`, Values: [value] },
        { Name: 'instance-state-name', Values: [...LIVE_STATES] },
      ];
      for await (const page of paginateDescribeInstances({ client: this.client(region) }, { Filters: filters })) {
        for (const instance of page.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
          const tagged = toTaggedVm(instance, region);
          if (tagged) found.push(tagged);
        }
      }
    }
    return found;
  }

  /** Closes every region's client (their sockets). */
  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}

function toTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function toTaggedVm(instance: Instance, region: string): TaggedVm | undefined {
  const state = instance.State?.Name;
  if (!instance.InstanceId || !isLive(state)) return undefined;
  const tags = Object.fromEntries((instance.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])));
  const { Name: name = instance.InstanceId, ...rest } = tags as Record<string, string>;
  return {
    cloud: 'aws',
    vmId: instance.InstanceId,
    region,
    zone: instance.Placement?.AvailabilityZone ?? null,
    name,
    // TaggedVm has no `stopped`; a stopped instance still bills its disks, so it is listed for the sweep to terminate.
    state: state === 'stopped' ? 'stopping' : state,
    tags: rest,
  };
}
