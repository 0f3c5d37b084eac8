import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RefreshResult } from '../activities/prices';

const refreshing = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
});

/**
 * One refresh of the offer catalog's live prices, started by its schedule
 * (client/maintenance-schedules.ts). A failing source keeps its last good snapshot; the result
 * (one line per source) says which.
 */
export async function refreshOfferPrices(): Promise<RefreshResult[]> {
  const results = await refreshing.refreshOfferCatalog();
  for (const result of results) {
    if (result.status === 'ok') log.info(result.message, { source: result.source });
    else log.warn(result.message, { source: result.source });
  }
  return results;
}
