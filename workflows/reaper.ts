import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SweepReport } from '../activities/reaper';

const sweeping = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
});

/**
 * The leaked-VM sweeper, started by its Temporal Schedule (client/maintenance-schedules.ts): one sweep,
 * whose report (what it terminated, and why) is the workflow's result, visible in the Temporal UI.
 */
export async function reapLeakedVms(): Promise<SweepReport> {
  const report = await sweeping.sweepLeakedVms();
  for (const vm of report.reaped) log.warn('reaped a leaked VM', { ...vm });
  return report;
}
