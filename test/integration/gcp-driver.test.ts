import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GcpDriver } from '../../clouds/gcp/gcp-driver';
import { gcpRequestId } from '../../clouds/gcp/request-id';
import { ProvisionError } from '../../clouds/provision-error';
import type { VmRef, VmSpec } from '../../clouds/vm-driver';
import type { Offer } from '../../domain/offer';
import { EmulatorControl } from '../../emulators/control-client';
import { type GcpEmulator, startGcpEmulator } from '../../emulators/gcp-compute';
import { eventually } from '../helpers/eventually';
import { isAlive } from '../helpers/launches';

// The GCP VmDriver through the real @google-cloud/compute SDK (REST transport) against the local
// Compute Engine fake: boot, idempotent create, capacity and quota failures, preemption,
// termination and the label sweep. Every test deletes what it created; afterEach proves it did.

const PROJECT = 'mlfleet-test';

let emulator: GcpEmulator;
let control: EmulatorControl;
let driver: GcpDriver;
let scratch: string;

function offer(overrides: Partial<Offer> = {}): Offer {
  return {
    cloud: 'gcp',
    region: 'us-central1',
    zone: null,
    instance_type: 'n1-standard-4',
    gpu_type: 'T4',
    gpu_count: 1,
    vcpus: 4,
    memory_gb: 15,
    on_demand_price: 0.54,
    spot_price: 0.16,
    interruption_rate: 0.05,
    fetched_at: '2026-11-01T00:00:00.000Z',
    source: 'bundled',
    ...overrides,
  };
}

/** A spot VM spec whose boot script writes its shell's pid (the process group) and then idles. */
function spec(name: string, overrides: Partial<VmSpec> = {}): VmSpec {
  return {
    name,
    idempotencyToken: `wf-${name}/attempt-1`,
    offer: offer(),
    spot: true,
    bootScript: `echo $$ > ${pidFile(name)}\nexec sleep 300\n`,
    tags: { mlfleet_owner: `wf-${name}` },
    ...overrides,
  };
}

const pidFile = (name: string): string => join(scratch, `${name}.pid`);


/** The boot script's process group leader, once the VM has written it. */
const bootPid = (name: string): Promise<number> =>
  eventually(() => (existsSync(pidFile(name)) ? Number(readFileSync(pidFile(name), 'utf8').trim()) || undefined : undefined), 10_000, `${name}'s boot script`);


/** The instance exactly as the Compute Engine API returns it. */
async function instanceJson(ref: VmRef): Promise<Record<string, unknown>> {
  const res = await fetch(`${emulator.endpoint}/compute/v1/projects/${PROJECT}/zones/${ref.zone}/instances/${ref.vmId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'gcp-driver-'));
  emulator = await startGcpEmulator({ root: join(scratch, 'vms') });
  control = new EmulatorControl(emulator.endpoint);
  driver = new GcpDriver({ project: PROJECT, emulatorEndpoint: emulator.endpoint });
});

afterEach(async () => {
  const live = await control.liveVms();
  await control.reset();
  expect(live).toEqual([]);
});

afterAll(async () => {
  await driver?.close();
  await emulator?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

it('create boots the startup script on a spot VM and describe says running', async () => {
  const ref = await driver.create(spec('boot'));
  expect(ref).toEqual({ cloud: 'gcp', vmId: 'boot', region: 'us-central1', zone: 'us-central1-a' });
  expect(await driver.describe(ref)).toEqual({ state: 'running' });
  const pid = await bootPid('boot');
  expect(isAlive(pid)).toBe(true);
  const [vm] = await control.liveVms();
  expect(vm).toMatchObject({ name: 'boot', zone: 'us-central1-a', region: 'us-central1', instance_type: 'n1-standard-4', spot: true, tags: { mlfleet_owner: 'wf-boot' } });
  await driver.terminate(ref);
});

it('the instance carries spot scheduling, labels, the startup script and the N1 GPU as an accelerator', async () => {
  const ref = await driver.create(spec('shape'));
  const instance = await instanceJson(ref);
  expect(instance).toMatchObject({
    machineType: `${emulator.endpoint}/compute/v1/projects/${PROJECT}/zones/us-central1-a/machineTypes/n1-standard-4`,
    scheduling: { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' },
    guestAccelerators: [{ acceleratorType: 'zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4', acceleratorCount: 1 }],
    labels: { mlfleet_owner: 'wf-shape' },
    metadata: { items: [{ key: 'startup-script', value: spec('shape').bootScript }] },
    disks: [{ boot: true, autoDelete: true }],
  });
  await driver.terminate(ref);
});

it('an accelerator-optimized machine bundles its GPU, and an on-demand VM is STANDARD', async () => {
  const a2 = offer({ instance_type: 'a2-highgpu-1g', gpu_type: 'A100', region: 'us-east1', zone: null });
  const ref = await driver.create(spec('bundled', { offer: a2, spot: false }));
  // us-east1 has no -a zone: a region-wide offer lands in its first zone.
  expect(ref.zone).toBe('us-east1-b');
  const instance = await instanceJson(ref);
  expect(instance.guestAccelerators ?? []).toEqual([]);
  expect(instance.scheduling).toEqual({ provisioningModel: 'STANDARD', automaticRestart: false, onHostMaintenance: 'TERMINATE' });
  await driver.terminate(ref);
});

it('a GPU no GCP machine of that family can carry is a fatal ProvisionError, and nothing is created', async () => {
  const impossible = spec('impossible', { offer: offer({ instance_type: 'e2-standard-4', gpu_type: 'T4' }) });
  await expect(driver.create(impossible)).rejects.toMatchObject({ scope: 'fatal', code: 'mlfleet.UnsupportedAccelerator' });
  expect(await control.vms()).toEqual([]);
});

it('the same idempotency token twice makes one instance, even after it is gone', async () => {
  const once = spec('twice');
  const [first, second] = await Promise.all([driver.create(once), driver.create(once)]);
  expect(second).toEqual(first);
  expect((await control.vms()).map((vm) => vm.name)).toEqual(['twice']);
  await driver.terminate(first);
  // A retry carrying the same requestId gets the first operation back, as GCP does: no second VM.
  await driver.create(once);
  expect(await control.liveVms()).toEqual([]);
  expect(await control.vms()).toHaveLength(1);
});

it('a capacity fault is a zone-scoped ProvisionError and leaves no instance', async () => {
  await control.injectFault({ kind: 'capacity', zone: 'us-central1-a' });
  const error = await driver.create(spec('stockout')).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ProvisionError);
  expect(error).toMatchObject({ scope: 'zone', code: 'ZONE_RESOURCE_POOL_EXHAUSTED' });
  expect(await control.vms()).toEqual([]);
  expect(await driver.describe({ cloud: 'gcp', vmId: 'stockout', region: 'us-central1', zone: 'us-central1-a' })).toMatchObject({ state: 'gone', preempted: false });
  // The fault was used up: the next create in that zone succeeds.
  const ref = await driver.create(spec('after-stockout'));
  await driver.terminate(ref);
});

it('a quota fault is a region-scoped ProvisionError', async () => {
  await control.injectFault({ kind: 'quota', region: 'europe-west4' });
  const quota = spec('quota', { offer: offer({ region: 'europe-west4', zone: 'europe-west4-b' }) });
  await expect(driver.create(quota)).rejects.toMatchObject({ scope: 'region', code: 'QUOTA_EXCEEDED' });
  expect(await control.vms()).toEqual([]);
});

it('a preempted spot VM is gone with preempted: true and its processes are stopped', async () => {
  const ref = await driver.create(spec('preempted'));
  const pid = await bootPid('preempted');
  await control.preempt({ name: 'preempted' });
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: true });
  await eventually(() => (isAlive(pid) ? undefined : true), 10_000, 'the preempted boot process to die');
  // Teardown after a preemption still succeeds: the instance is already deleted.
  await driver.terminate(ref);
});

it('terminate twice succeeds, kills the boot process, and a deleted VM is not reported as preempted', async () => {
  const ref = await driver.create(spec('deleted'));
  const pid = await bootPid('deleted');
  await driver.terminate(ref);
  await driver.terminate(ref);
  expect(isAlive(pid)).toBe(false);
  expect(await driver.describe(ref)).toMatchObject({ state: 'gone', preempted: false });
});

it('listTagged finds only the VMs carrying the label, in the given regions', async () => {
  const refs = await Promise.all([
    driver.create(spec('owned-a', { tags: { mlfleet_owner: 'wf-a' } })),
    driver.create(spec('owned-b', { tags: { mlfleet_owner: 'wf-b' } })),
    driver.create(spec('untagged', { tags: { team: 'x' } })),
    driver.create(spec('owned-eu', { tags: { mlfleet_owner: 'wf-a' }, offer: offer({ region: 'europe-west4', zone: 'europe-west4-c' }) })),
  ]);
  const names = async (regions: string[], value?: string): Promise<string[]> =>
    (await driver.listTagged('mlfleet_owner', regions, value)).map((vm) => vm.name).sort();
  expect(await names(['us-central1'])).toEqual(['owned-a', 'owned-b']);
  expect(await names(['us-central1'], 'wf-a')).toEqual(['owned-a']);
  expect(await names(['us-central1', 'europe-west4'], 'wf-a')).toEqual(['owned-a', 'owned-eu']);
  expect(await names(['asia-east1'])).toEqual([]);
  const [eu] = await driver.listTagged('mlfleet_owner', ['europe-west4']);
  expect(eu).toEqual({ cloud: 'gcp', vmId: 'owned-eu', name: 'owned-eu', region: 'europe-west4', zone: 'europe-west4-c', state: 'running', tags: { mlfleet_owner: 'wf-a' } });
  await Promise.all(refs.map((ref) => driver.terminate(ref)));
  expect(await names(['us-central1', 'europe-west4'])).toEqual([]);
});

it('requestId is a stable, non-zero UUIDv5 per idempotency token', () => {
  const id = gcpRequestId('wf-train/attempt-1');
  expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(gcpRequestId('wf-train/attempt-1')).toBe(id);
  expect(gcpRequestId('wf-train/attempt-2')).not.toBe(id);
});
