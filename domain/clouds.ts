// The clouds mlfleet knows, written out once: every other list, union and map of clouds derives from these.

/** The clouds whose VMs run stages. */
export const VM_CLOUDS = ['aws', 'gcp', 'azure'] as const;
export type VmCloud = (typeof VM_CLOUDS)[number];

/** Where placement may put a stage: a VM cloud, or `local` (the worker's own machine). */
export const CLOUDS = [...VM_CLOUDS, 'local'] as const;
