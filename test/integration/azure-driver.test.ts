import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import { AzureDriver } from '../../clouds/azure/azure-driver';
import { ProvisionError } from '../../clouds/provision-error';
import type { VmRef, VmSpec } from '../../clouds/vm-driver';
import { type AzureEmulator, startAzureEmulator } from '../../emulators/azure-arm';
import { EmulatorControl } from '../../emulators/control-client';
import { Offer } from '../../domain/offer';
import { eventually } from '../helpers/eventually';
import { isAlive } from '../helpers/launches';

// The Azure VM driver through the real @azure/arm-compute against the local ARM fake (HTTPS,
// self-signed): boot by customData, idempotent creates, stockout and quota classification,
// eviction, teardown, and the tag listing the reaper relies on. No test may leave a VM behind.

const OWNER_TAG = 'mlfleet-owner';
const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const RESOURCE_GROUP = 'mlfleet-test';

// A token the fake accepts; the real pipeline still insists on TLS before it sends one.
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: 'emulator', expiresOnTimestamp: Date.now() + 3_600_000 }) };

let emulator: AzureEmulator;
let control: EmulatorControl;
let driver: AzureDriver;
let scratch: string;
let vmCount = 0;

function newDriver(): AzureDriver {
  return new AzureDriver(
    {
      subscriptionId: SUBSCRIPTION,
      resourceGroup: RESOURCE_GROUP,
      subnetId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`,
      image: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
      sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyNobodyLogsInWith mlfleet',
      endpoint: emulator.endpoint,
      ca: emulator.ca,
      pollIntervalMs: 25,
    },
    credential,
  );
}

function offer(fields: Partial<Offer> = {}): Offer {
  return Offer.parse({
    cloud: 'azure',
    region: 'eastus',
    zone: null,
    instance_type: 'Standard_NC4as_T4_v3',
    gpu_type: 'T4',
    gpu_count: 1,
    vcpus: 4,
    memory_gb: 28,
    on_demand_price: 0.526,
    spot_price: 0.0526,
    interruption_rate: 0.05,
    fetched_at: '2026-11-01T00:00:00.000Z',
    source: 'bundled',
    ...fields,
  });
}

/** A spec whose boot script records the VM name it ran under and its process id in `dir`. */
function stageSpec(fields: { offer?: Offer; spot?: boolean; tags?: Record<string, string> } = {}): VmSpec & { dir: string } {
  vmCount += 1;
  const name = `mlfleet-test-${vmCount}`;
  const dir = mkdtempSync(join(scratch, `${name}-`));
  return {
    dir,
    name,
    idempotencyToken: `token-${name}`,
    offer: fields.offer ?? offer(),
    spot: fields.spot ?? true,
    bootScript: `echo $$ > '${dir}/pid'\necho "$MLFLEET_VM_NAME" >> '${dir}/booted'\nexec sleep 300\n`,
    tags: fields.tags ?? { [OWNER_TAG]: 'wf-azure-test' },
  };
}


/** The boot script's pid, once it has started. */
async function bootPid(spec: { dir: string }): Promise<number> {
  const file = join(spec.dir, 'pid');
  await eventually(() => (existsSync(file) && readFileSync(file, 'utf8').trim() !== '') || undefined, 10_000, 'the boot script');
  return Number(readFileSync(file, 'utf8').trim());
}


async function createFailure(spec: VmSpec): Promise<ProvisionError> {
  const outcome = await driver.create(spec).then(
    (ref) => ref,
    (err: unknown) => err,
  );
  if (!(outcome instanceof ProvisionError)) throw new Error(`expected a ProvisionError, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/** The SDK itself, for what the driver does not do: an abandoned create, the subscription-wide list. */
const sdkClient = (): ComputeManagementClient =>
  new ComputeManagementClient(credential, SUBSCRIPTION, { endpoint: emulator.endpoint, tlsOptions: { ca: emulator.ca } });

const refOf = (spec: VmSpec): VmRef => ({ cloud: 'azure', vmId: spec.name, region: spec.offer.region, zone: spec.offer.zone });

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'mlfleet-azure-'));
  emulator = await startAzureEmulator({ root: join(scratch, 'emulator') });
  control = new EmulatorControl(emulator.endpoint, { ca: emulator.ca });
  driver = newDriver();
});

afterEach(async () => {
  const live = await control.liveVms();
  await control.reset();
  expect(live).toEqual([]);
});

afterAll(async () => {
  await emulator?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('create boots the customData script under the VM name, and describe reports it running', async () => {
  const spec = stageSpec();
  const ref = await driver.create(spec);
  expect(ref).toEqual({ cloud: 'azure', vmId: spec.name, region: 'eastus', zone: null });

  await bootPid(spec);
  expect(readFileSync(join(spec.dir, 'booted'), 'utf8')).toBe(`${spec.name}\n`);
  expect(await driver.describe(ref)).toEqual({ state: 'running' });
  expect(await control.liveVms()).toEqual([
    expect.objectContaining({
      name: spec.name,
      region: 'eastus',
      zone: null,
      instance_type: 'Standard_NC4as_T4_v3',
      spot: true,
      tags: { [OWNER_TAG]: 'wf-azure-test', name: spec.name },
    }),
  ]);

  await driver.terminate(ref);
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: false });
});

test('creating the same spec twice, one after the other or at once, makes one VM that booted once', async () => {
  const sequential = stageSpec();
  const first = await driver.create(sequential);
  // A second worker (a retried activity) creating the same spec adopts the VM.
  expect(await newDriver().create(sequential)).toEqual(first);

  const concurrent = stageSpec();
  const [a, b] = await Promise.all([driver.create(concurrent), newDriver().create(concurrent)]);
  expect(a).toEqual(b);

  await Promise.all([bootPid(sequential), bootPid(concurrent)]);
  expect((await control.vms()).map((vm) => vm.name).sort()).toEqual([sequential.name, concurrent.name].sort());
  for (const spec of [sequential, concurrent]) expect(readFileSync(join(spec.dir, 'booted'), 'utf8')).toBe(`${spec.name}\n`);

  await Promise.all([driver.terminate(first), driver.terminate(a)]);
});

test('a create after an interrupted one adopts the VM it left Creating, and replaces one whose allocation failed', async () => {
  // What a worker SIGKILLed during provisioning leaves: a PUT sent, nobody polling it.
  const sdk = sdkClient();
  const interruptedCreate = (spec: VmSpec): Promise<void> =>
    sdk.virtualMachines
      .createOrUpdate(RESOURCE_GROUP, spec.name, {
        location: spec.offer.region,
        ...(spec.offer.zone === null ? {} : { zones: [spec.offer.zone] }),
        tags: spec.tags,
        hardwareProfile: { vmSize: spec.offer.instance_type },
        priority: 'Spot',
        evictionPolicy: 'Delete',
        osProfile: { customData: Buffer.from(spec.bootScript).toString('base64') },
      })
      .submitted();

  const creating = stageSpec();
  await interruptedCreate(creating);
  expect((await sdk.virtualMachines.get(RESOURCE_GROUP, creating.name)).provisioningState).toBe('Creating');
  const adopted = await driver.create(creating);

  await control.injectFault({ kind: 'capacity', zone: '1' });
  const failed = stageSpec({ offer: offer({ zone: '1' }) });
  await interruptedCreate(failed);
  await eventually(async () => (await sdk.virtualMachines.get(RESOURCE_GROUP, failed.name)).provisioningState === 'Failed' || undefined, 10_000, 'the allocation to fail');
  const replaced = await driver.create(failed);

  await Promise.all([bootPid(creating), bootPid(failed)]);
  expect(await driver.describe(adopted)).toEqual({ state: 'running' });
  expect(await driver.describe(replaced)).toEqual({ state: 'running' });
  expect((await driver.listTagged(OWNER_TAG, ['eastus'])).map((vm) => vm.name).sort()).toEqual([creating.name, failed.name].sort());
  for (const spec of [creating, failed]) expect(readFileSync(join(spec.dir, 'booted'), 'utf8')).toBe(`${spec.name}\n`);

  await Promise.all([driver.terminate(adopted), driver.terminate(replaced)]);
});

test('a stockout in the requested zone fails through the operation, blocks the zone, and leaves no VM', async () => {
  await control.injectFault({ kind: 'capacity', region: 'eastus', zone: '2' });
  const spec = stageSpec({ offer: offer({ zone: '2' }) });

  const failure = await createFailure(spec);
  expect({ scope: failure.scope, code: failure.code }).toEqual({ scope: 'zone', code: 'ZonalAllocationFailed' });
  // The VM Azure leaves behind in provisioningState Failed was deleted by the driver.
  expect(await driver.listTagged(OWNER_TAG, ['eastus'])).toEqual([]);
  expect(await driver.describe(refOf(spec))).toMatchObject({ state: 'gone', preempted: false });
  expect(await control.vms()).toEqual([]);
});

test('a regional stockout, on the PUT (SkuNotAvailable) or through the operation (AllocationFailed), blocks the region', async () => {
  await control.injectFault({ kind: 'capacity', region: 'eastus', count: 2 });

  const onPut = await createFailure(stageSpec());
  expect({ scope: onPut.scope, code: onPut.code }).toEqual({ scope: 'region', code: 'SkuNotAvailable' });
  const inOperation = await createFailure(stageSpec());
  expect({ scope: inOperation.scope, code: inOperation.code }).toEqual({ scope: 'region', code: 'AllocationFailed' });
  expect(await driver.listTagged(OWNER_TAG, ['eastus'])).toEqual([]);

  // The fault is used up: the next create gets its VM.
  const spec = stageSpec();
  const ref = await driver.create(spec);
  expect(await driver.describe(ref)).toEqual({ state: 'running' });
  await driver.terminate(ref);
});

test('a quota refusal blocks the region and creates nothing', async () => {
  await control.injectFault({ kind: 'quota', region: 'westeurope' });
  const spec = stageSpec({ offer: offer({ region: 'westeurope', zone: '1' }) });

  const failure = await createFailure(spec);
  expect({ scope: failure.scope, code: failure.code }).toEqual({ scope: 'region', code: 'OperationNotAllowed' });
  expect(failure.message).toMatch(/quota/);
  expect(await driver.listTagged(OWNER_TAG, ['westeurope'])).toEqual([]);
  expect(await control.vms()).toEqual([]);
});

test('an evicted Spot VM is gone, reported preempted, and its processes are dead', async () => {
  const spec = stageSpec();
  const ref = await driver.create(spec);
  const pid = await bootPid(spec);
  expect(await driver.describe(ref)).toEqual({ state: 'running' });

  await control.preempt({ name: spec.name });
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: true });
  expect(isAlive(pid)).toBe(false);
  // Teardown by lease still runs afterwards, and must succeed on the vanished VM.
  await driver.terminate(ref);
});

test('an on-demand VM is created without Spot settings, and its disappearance is no preemption', async () => {
  const spec = stageSpec({ spot: false });
  const ref = await driver.create(spec);
  expect(await control.liveVms()).toEqual([expect.objectContaining({ name: spec.name, spot: false })]);

  // Another worker deletes it: this driver did not, yet an on-demand VM is never evicted.
  await newDriver().terminate(ref);
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: false });
});

test('terminate twice succeeds and the boot process is dead', async () => {
  const spec = stageSpec({ offer: offer({ zone: '3' }) });
  const ref = await driver.create(spec);
  expect(ref.zone).toBe('3');
  const pid = await bootPid(spec);
  expect(isAlive(pid)).toBe(true);

  await driver.terminate(ref);
  await driver.terminate(ref);
  expect(isAlive(pid)).toBe(false);
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: false });
  expect(await control.vms()).toEqual([expect.objectContaining({ name: spec.name, state: 'terminated', termination_reason: 'deleted' })]);
});

test('listTagged finds only the VMs carrying the tag (and value) in the given regions', async () => {
  const ownedA = stageSpec({ tags: { [OWNER_TAG]: 'wf-a' } });
  const ownedB = stageSpec({ tags: { [OWNER_TAG]: 'wf-b' } });
  const untagged = stageSpec({ tags: {} });
  const elsewhere = stageSpec({ offer: offer({ region: 'westus2', zone: '2' }), tags: { [OWNER_TAG]: 'wf-a' } });
  const specs = [ownedA, ownedB, untagged, elsewhere];
  const refs = await Promise.all(specs.map((spec) => driver.create(spec)));

  const names = async (regions: string[], value?: string): Promise<string[]> =>
    (await driver.listTagged(OWNER_TAG, regions, value)).map((vm) => vm.name).sort();
  expect(await names(['eastus'])).toEqual([ownedA.name, ownedB.name].sort());
  expect(await names(['eastus'], 'wf-a')).toEqual([ownedA.name]);
  expect(await names(['eastus', 'westus2'], 'wf-a')).toEqual([ownedA.name, elsewhere.name].sort());
  expect(await driver.listTagged(OWNER_TAG, ['westus2'])).toEqual([
    { cloud: 'azure', vmId: elsewhere.name, name: elsewhere.name, region: 'westus2', zone: '2', state: 'running', tags: { [OWNER_TAG]: 'wf-a', name: elsewhere.name } },
  ]);
  expect(await names([])).toEqual([]);
  const inSubscription: string[] = [];
  for await (const vm of sdkClient().virtualMachines.listAll()) inSubscription.push(vm.name ?? '');
  expect(inSubscription.sort()).toEqual(specs.map((spec) => spec.name).sort());

  await Promise.all(refs.map((ref) => driver.terminate(ref)));
  expect(await names(['eastus', 'westus2'])).toEqual([]);
});
