import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';

/** Short database writes: retried until they succeed. */
export const bookkeepingOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

/** Activities that pin data inputs: listing (and in copy mode copying) every object takes a while; bounded, heartbeated per page. */
export const pinningOptions: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
};

/** Waiting on a running stage (a local agent or a VM): bounded by the command; the heartbeat detects a dead worker. */
export const stageComputeOptions: ActivityOptions = {
  startToCloseTimeout: '7 days',
  heartbeatTimeout: '20 seconds',
  // The workflow waits until the stage process is really stopped before it records KILLED.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
};
