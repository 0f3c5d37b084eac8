/** Workflow ids are built here and nowhere else, so every caller agrees on them. */

const LAUNCH_PREFIX = 'launch/';

export const launchWorkflowId = (launchId: string): string => `${LAUNCH_PREFIX}${launchId}`;

export const stageWorkflowId = (launchId: string, stage: string): string => `${LAUNCH_PREFIX}${launchId}/stage/${stage}`;

/** The launch id of a launch workflow; a workflow started by hand under another id uses that id whole. */
export const launchIdFromWorkflowId = (workflowId: string): string =>
  workflowId.startsWith(LAUNCH_PREFIX) ? workflowId.slice(LAUNCH_PREFIX.length) : workflowId;
