import { refreshPrices, type RefreshResult } from '../clouds/pricing/refresh';
import type { ActivityDeps } from './deps';

/** The offer catalog's live refresh: every configured source read, checked and stored (or its failure recorded). */
export function createPriceActivities(deps: ActivityDeps) {
  return {
    async refreshOfferCatalog(): Promise<RefreshResult[]> {
      return refreshPrices(deps.pool, deps.clouds?.priceSources ?? []);
    },
  };
}
