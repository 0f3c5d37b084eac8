import { createComputeActivities } from './compute';
import type { ActivityDeps } from './deps';
import { createMemoActivities } from './memo';
import { createPipelineActivities } from './pipelines';
import { createPriceActivities } from './prices';
import { createReaperActivities } from './reaper';
import { createTrackingActivities } from './tracking';
import { createVmComputeActivities } from './vm-compute';

export type { ActivityDeps } from './deps';

/** All activities, wired over their dependencies; workflows import only this type. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTrackingActivities(deps),
    ...createComputeActivities(deps),
    ...createPipelineActivities(deps),
    ...createMemoActivities(deps),
    ...createVmComputeActivities(deps),
    ...createReaperActivities(deps),
    ...createPriceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
