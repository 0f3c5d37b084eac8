import { createComputeActivities } from './compute';
import type { ActivityDeps } from './deps';
import { createLaunchOpeningActivities } from './launch-opening';
import { createMemoActivities, createStageSettling } from './memo';
import { createPipelineActivities } from './pipelines';
import { createPriceActivities } from './prices';
import { createReaperActivities } from './reaper';
import { createLaunchRecords, createTrackingActivities } from './tracking';
import { createVmComputeActivities } from './vm-compute';

export type { ActivityDeps } from './deps';

/** All activities, wired over their dependencies; workflows import only this type. */
export function createActivities(deps: ActivityDeps) {
  const tracking = createTrackingActivities(deps);
  const pipelines = createPipelineActivities(deps);
  const memo = createMemoActivities(deps);
  return {
    ...tracking,
    ...createComputeActivities(deps),
    ...pipelines,
    ...memo,
    ...createLaunchOpeningActivities({ ...tracking, ...pipelines, ...memo, ...createLaunchRecords(deps), ...createStageSettling(deps) }),
    ...createVmComputeActivities(deps),
    ...createReaperActivities(deps),
    ...createPriceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
