import { createComputeActivities } from './compute';
import type { ActivityDeps } from './deps';
import { createMemoActivities } from './memo';
import { createPipelineActivities } from './pipelines';
import { createTrackingActivities } from './tracking';

export type { ActivityDeps } from './deps';

/** All activities, wired over their dependencies; workflows import only this type. */
export function createActivities(deps: ActivityDeps) {
  return { ...createTrackingActivities(deps), ...createComputeActivities(deps), ...createPipelineActivities(deps), ...createMemoActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
