import type { protos } from '@google-cloud/compute';
import { ProvisionError } from '../provision-error';
import type { VmSpec } from '../vm-driver';

type Instance = protos.google.cloud.compute.v1.IInstance;

// N1 machines take their GPUs as attached accelerators (cloud.google.com/compute/docs/gpus).
const N1_ACCELERATORS: Record<string, string> = {
  T4: 'nvidia-tesla-t4',
  V100: 'nvidia-tesla-v100',
  P100: 'nvidia-tesla-p100',
  P4: 'nvidia-tesla-p4',
};

// Accelerator-optimized families carry their GPUs in the machine type itself (a2-highgpu-1g, g2-standard-4, …).
const GPU_BUNDLING_FAMILIES = new Set(['a2', 'a3', 'g2']);

// Compute Engine has no `-a` zone in these regions; their first zone is `-b`.
const FIRST_ZONE_EXCEPTIONS: Record<string, string> = {
  'us-east1': 'us-east1-b',
  'europe-west1': 'europe-west1-b',
};

/** The zone a region-wide offer is placed in: the region's first zone (`<region>-a`, or `-b` where there is no `-a`). */
export function firstZoneOf(region: string): string {
  return FIRST_ZONE_EXCEPTIONS[region] ?? `${region}-a`;
}

/** `us-central1-a` → `us-central1`. */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}

export interface BootDisk {
  /** An image or image family URL, e.g. `projects/debian-cloud/global/images/family/debian-12`. */
  sourceImage: string;
  sizeGb: number;
}

function guestAccelerators(spec: VmSpec, zone: string): Instance['guestAccelerators'] {
  const { instance_type: machineType, gpu_type: gpu, gpu_count: count } = spec.offer;
  if (count === 0 || gpu === null) return [];
  const family = machineType.split('-')[0] ?? '';
  if (GPU_BUNDLING_FAMILIES.has(family)) return [];
  const accelerator = family === 'n1' ? N1_ACCELERATORS[gpu] : undefined;
  if (!accelerator) {
    // A catalog row no GCP machine can satisfy: no other attempt at this offer would succeed.
    throw new ProvisionError('fatal', 'mlfleet.UnsupportedAccelerator', `GCP ${machineType} cannot carry ${count}× ${gpu}: only N1 takes attached GPUs (${Object.keys(N1_ACCELERATORS).join(', ')})`);
  }
  return [{ acceleratorType: `zones/${zone}/acceleratorTypes/${accelerator}`, acceleratorCount: count }];
}

function scheduling(spec: VmSpec): Instance['scheduling'] {
  // Spot and GPU VMs cannot live-migrate; a stage VM is single-use, so it never restarts by itself either.
  const onHostMaintenance = spec.offer.gpu_count > 0 || spec.spot ? 'TERMINATE' : 'MIGRATE';
  return spec.spot
    ? { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance }
    : { provisioningModel: 'STANDARD', automaticRestart: false, onHostMaintenance };
}

/** The Instance body of `instances.insert` for one stage VM in `zone`. */
export function instanceResource(spec: VmSpec, zone: string, disk: BootDisk): Instance {
  return {
    name: spec.name,
    machineType: `zones/${zone}/machineTypes/${spec.offer.instance_type}`,
    guestAccelerators: guestAccelerators(spec, zone),
    scheduling: scheduling(spec),
    labels: { ...spec.tags },
    metadata: { items: [{ key: 'startup-script', value: spec.bootScript }] },
    disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: disk.sourceImage, diskSizeGb: disk.sizeGb } }],
    // An external address so the agent reaches the tracking API and the object store.
    networkInterfaces: [{ network: 'global/networks/default', accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }],
  };
}
