import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsVmDriver } from '../../clouds/aws/aws-driver';
import { ProvisionError } from '../../clouds/provision-error';
import type { VmRef, VmSpec } from '../../clouds/vm-driver';
import { EC2_EMULATOR_AMI } from '../../emulators/ec2';
import { startTestEc2, type TestEc2 } from '../helpers/ec2-emulator';
import { eventually } from '../helpers/eventually';
import { isAlive } from '../helpers/launches';

// The AWS driver through @aws-sdk/client-ec2 against moto behind the EC2 emulator proxy: VMs boot
// their user data, ClientToken is idempotent, injected capacity/quota errors are classified, and a
// preemption reads differently from a deletion. No test may leave a VM running.

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const REGIONS = ['us-east-1', 'us-west-2'];
const RUN = randomBytes(3).toString('hex');

let ec2: TestEc2;
let driver: AwsVmDriver;
let markers: string;
let created: VmRef[] = [];
let counter = 0;

/** A spec whose boot script records the VM id and its own pid, then stays up like an agent would. */
function vmSpec(overrides: { region?: string; zone?: string | null; spot?: boolean; tags?: Record<string, string>; token?: string } = {}): VmSpec {
  counter += 1;
  const name = `mlfleet-${RUN}-${counter}`;
  const region = overrides.region ?? 'us-east-1';
  return {
    name,
    idempotencyToken: overrides.token ?? `${name}-token`,
    offer: {
      cloud: 'aws',
      region,
      zone: overrides.zone === undefined ? `${region}b` : overrides.zone,
      instance_type: 't3.micro',
      gpu_type: null,
      gpu_count: 0,
      vcpus: 2,
      memory_gb: 1,
      on_demand_price: 0.0104,
      spot_price: 0.0031,
      interruption_rate: 0.05,
      fetched_at: '2026-11-01T00:00:00Z',
      source: 'bundled',
    },
    spot: overrides.spot ?? true,
    bootScript: `#!/bin/bash\necho $$ > '${markers}/${name}.pid'\necho "$MLFLEET_VM_ID" > '${markers}/${name}.booted'\nexec sleep 300\n`,
    tags: overrides.tags ?? { mlfleet_test: RUN },
  };
}

async function create(spec: VmSpec): Promise<VmRef> {
  const ref = await driver.create(spec);
  created.push(ref);
  return ref;
}


/** Waits for the boot script to run and returns the pid of its process group. */
async function booted(spec: VmSpec, ref: VmRef): Promise<number> {
  await eventually(() => existsSync(join(markers, `${spec.name}.booted`)) || undefined, 15_000, `${spec.name} to boot`);
  expect(readFileSync(join(markers, `${spec.name}.booted`), 'utf8').trim()).toBe(ref.vmId);
  return Number(readFileSync(join(markers, `${spec.name}.pid`), 'utf8'));
}


/** What moto itself holds (behind the proxy) for instances named `name`. */
async function motoInstances(name: string, region = 'us-east-1'): Promise<Instance[]> {
  const client = new EC2Client({ region, endpoint: ec2.moto.endpoint, credentials });
  try {
    const reply = await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [name] }] }));
    return reply.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
  } finally {
    client.destroy();
  }
}

async function expectProvisionError(promise: Promise<unknown>, scope: ProvisionError['scope'], code: string): Promise<void> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProvisionError);
  expect({ scope: (err as ProvisionError).scope, code: (err as ProvisionError).code }).toEqual({ scope, code });
}

beforeAll(async () => {
  ec2 = await startTestEc2();
  markers = mkdtempSync(join(ec2.root, 'markers-'));
  driver = new AwsVmDriver({ endpoint: ec2.endpoint, credentials, imageIds: Object.fromEntries(REGIONS.map((r) => [r, EC2_EMULATOR_AMI])) });
}, 60_000);

afterEach(async () => {
  for (const ref of created) await driver.terminate(ref);
  created = [];
  const leaked = await ec2.control.liveVms();
  // A leak is cleaned up before it fails the test, so that it fails this test only.
  for (const vm of leaked) await driver.terminate({ cloud: 'aws', vmId: vm.id, region: vm.region, zone: vm.zone });
  expect(leaked).toEqual([]);
});

afterAll(async () => {
  driver?.destroy();
  await ec2?.stop();
});

describe('the AWS VM driver on the EC2 emulator', () => {
  test('create launches a tagged one-time spot instance that boots its script; describe says running', async () => {
    const spec = vmSpec();
    const ref = await create(spec);
    expect(ref).toEqual({ cloud: 'aws', vmId: expect.stringMatching(/^i-/) as string, region: 'us-east-1', zone: 'us-east-1b' });
    await booted(spec, ref);
    expect(await driver.describe(ref)).toEqual({ state: 'running' });

    const [instance] = await motoInstances(spec.name);
    expect(instance).toMatchObject({
      InstanceId: ref.vmId,
      ImageId: EC2_EMULATOR_AMI,
      InstanceType: 't3.micro',
      InstanceLifecycle: 'spot',
      ClientToken: spec.idempotencyToken,
      Placement: { AvailabilityZone: 'us-east-1b' },
    });
    expect(instance?.Tags).toEqual(expect.arrayContaining([{ Key: 'Name', Value: spec.name }, { Key: 'mlfleet_test', Value: RUN }]));
    const [vm] = (await ec2.control.liveVms()).filter((v) => v.id === ref.vmId);
    expect(vm).toMatchObject({ name: spec.name, region: 'us-east-1', zone: 'us-east-1b', instance_type: 't3.micro', spot: true });
  });

  test('without a zone EC2 picks one, and an on-demand create carries no spot market', async () => {
    const spec = vmSpec({ zone: null, spot: false });
    const ref = await create(spec);
    expect(ref.zone).toMatch(/^us-east-1[a-f]$/);
    const [instance] = await motoInstances(spec.name);
    expect(instance?.InstanceLifecycle).toBeUndefined();
    expect((await ec2.control.liveVms()).find((v) => v.id === ref.vmId)?.spot).toBe(false);
  });

  test('the same idempotency token, even concurrently, yields one instance; another token a second one', async () => {
    const spec = vmSpec();
    const [first, second] = await Promise.all([create(spec), create(spec)]);
    const third = await create(spec);
    expect(second?.vmId).toBe(first?.vmId);
    expect(third.vmId).toBe(first?.vmId);
    expect((await motoInstances(spec.name)).map((i) => i.InstanceId)).toEqual([first?.vmId]);
    expect((await ec2.control.vms()).filter((v) => v.name === spec.name)).toHaveLength(1);

    const other = await create({ ...spec, idempotencyToken: `${spec.idempotencyToken}-2` });
    expect(other.vmId).not.toBe(first?.vmId);
    expect(await motoInstances(spec.name)).toHaveLength(2);
  });

  test('a capacity fault fails the create with zone scope and its EC2 code, launches nothing, and is not retried by the SDK', async () => {
    const spec = vmSpec();
    await ec2.control.injectFault({ kind: 'capacity', zone: 'us-east-1b', instance_type: 't3.micro' });
    await expectProvisionError(driver.create(spec), 'zone', 'InsufficientInstanceCapacity');
    expect(await motoInstances(spec.name)).toEqual([]);
    expect(await ec2.control.liveVms()).toEqual([]);
    // The fault fails one create: had the SDK retried the HTTP 500 itself, the create above would have succeeded.
    const ref = await create(spec);
    await booted(spec, ref);
  });

  test('a quota fault blocks the region: MaxSpotInstanceCountExceeded for spot, VcpuLimitExceeded on demand', async () => {
    await ec2.control.injectFault({ kind: 'quota', region: 'us-west-2', count: 2 });
    await expectProvisionError(driver.create(vmSpec({ region: 'us-west-2' })), 'region', 'MaxSpotInstanceCountExceeded');
    await expectProvisionError(driver.create(vmSpec({ region: 'us-west-2', spot: false })), 'region', 'VcpuLimitExceeded');
    expect(await ec2.control.liveVms()).toEqual([]);
  });

  test('a region without a configured AMI is blocked without calling EC2', async () => {
    await expectProvisionError(driver.create(vmSpec({ region: 'eu-west-1' })), 'region', 'mlfleet.NoImageForRegion');
  });

  test('a preemption reads as gone and preempted, and kills the boot process', async () => {
    const spec = vmSpec();
    const ref = await create(spec);
    const pid = await booted(spec, ref);
    await ec2.control.preempt({ id: ref.vmId });
    expect(await driver.describe(ref)).toEqual({ state: 'gone', preempted: true, reason: expect.stringContaining('Server.SpotInstanceTermination') as string });
    expect(isAlive(pid)).toBe(false);
    expect((await ec2.control.vms()).find((v) => v.id === ref.vmId)?.termination_reason).toBe('preempted');
  });

  test('terminate twice succeeds, kills the boot process, and describe says gone, not preempted', async () => {
    const spec = vmSpec();
    const ref = await create(spec);
    const pid = await booted(spec, ref);
    expect(isAlive(pid)).toBe(true);
    await driver.terminate(ref);
    await driver.terminate(ref);
    expect(isAlive(pid)).toBe(false);
    expect(await driver.describe(ref)).toEqual({ state: 'gone', preempted: false, reason: expect.stringMatching(/^(shutting-down|terminated): /) as string });
  });

  test('an instance EC2 never had is gone, and terminating it succeeds', async () => {
    const unknown: VmRef = { cloud: 'aws', vmId: 'i-0123456789abcdef0', region: 'us-east-1', zone: null };
    expect(await driver.describe(unknown)).toEqual({ state: 'gone', preempted: false, reason: 'instance i-0123456789abcdef0 not found' });
    await driver.terminate(unknown);
  });

  test('listTagged finds only live VMs carrying the tag, by value and across regions', async () => {
    const owner = `owner-${RUN}`;
    const a = vmSpec({ tags: { mlfleet_owner: `${owner}-a`, mlfleet_test: RUN } });
    const b = vmSpec({ region: 'us-west-2', tags: { mlfleet_owner: `${owner}-b` } });
    const untagged = vmSpec();
    const [refA, refB] = [await create(a), await create(b)];
    await create(untagged);

    const byId = (vms: { vmId: string }[]) => vms.map((v) => v.vmId).sort();
    const all = await driver.listTagged('mlfleet_owner', REGIONS);
    expect(byId(all)).toEqual([refA.vmId, refB.vmId].sort());
    expect(all.find((v) => v.vmId === refB.vmId)).toEqual({ ...refB, name: b.name, state: 'running', tags: b.tags });
    expect(byId(await driver.listTagged('mlfleet_owner', REGIONS, `${owner}-b`))).toEqual([refB.vmId]);
    expect(byId(await driver.listTagged('mlfleet_owner', ['us-east-1']))).toEqual([refA.vmId]);

    await driver.terminate(refA);
    expect(byId(await driver.listTagged('mlfleet_owner', REGIONS))).toEqual([refB.vmId]);
  });
});

describe('the EC2 emulator proxy', () => {
  test('passes S3 requests through to moto with their bodies intact', async () => {
    const s3 = new S3Client({ endpoint: ec2.endpoint, forcePathStyle: true, region: 'us-east-1', credentials });
    try {
      const bucket = `ec2-proxy-${RUN}`;
      const body = randomBytes(300_000);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'blob.bin', Body: body }));
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'blob.bin' }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true);
    } finally {
      s3.destroy();
    }
  });

  test('reset terminates the live VMs in moto as well as on the host', async () => {
    const spec = vmSpec();
    const ref = await create(spec);
    const pid = await booted(spec, ref);
    await ec2.control.reset();
    expect(isAlive(pid)).toBe(false);
    expect((await motoInstances(spec.name))[0]?.State?.Name).toMatch(/^(shutting-down|terminated)$/);
  });
});
