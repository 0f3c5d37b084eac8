import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { catalogFreshnessOf, currentOffersOf } from '../../clouds/pricing/catalog';
import { OfferList, OffersQuery, rankOffers } from '../../domain/placement';
import type { Cloud } from '../../domain/pipeline-spec';
import { getExperimentByName } from '../../store/experiments';
import { latestGoodSnapshots, listSourceFreshness } from '../../store/offer-snapshots';
import { medianStageHours } from '../../store/stage-durations';
import { SIGNED_IN } from '../auth/access-rule';
import { v1Route } from './route';

export interface OfferRoutesDeps {
  pool: pg.Pool;
  /** The clouds this deployment may place stages on; all when absent. */
  enabledClouds?: Cloud[];
}

/**
 * `GET /api/v1/offers`: the offers that fit one stage's resources, cheapest expected cost first,
 * with every term of that cost and how fresh the catalog is. `mlfleet plan` asks it per stage.
 */
export function registerOfferRoutes(app: FastifyInstance, deps: OfferRoutesDeps): void {
  const { pool } = deps;

  v1Route<undefined, OffersQuery, undefined>(
    app,
    {
      method: 'GET',
      access: SIGNED_IN,
      path: '/api/v1/offers',
      summary:
        "The offers that fit a stage's resources, cheapest expected cost first, each with its cost terms (price, hours, interruption penalty, egress), and the catalog's freshness per source",
      query: OffersQuery,
      response: OfferList,
    },
    async ({ query }) => {
      const { resources, top, experiment, stage, inputs } = query;
      const experimentRow = experiment === undefined ? undefined : await getExperimentByName(pool, experiment);
      const history = experimentRow && stage !== undefined ? await medianStageHours(pool, experimentRow.experiment_id, stage) : undefined;
      const [snapshots, sources] = await Promise.all([latestGoodSnapshots(pool), listSourceFreshness(pool)]);
      const [offers, freshness] = [currentOffersOf(snapshots), catalogFreshnessOf(sources)];
      const ranked = rankOffers(offers, {
        resources,
        inputs,
        ...(history !== undefined && { historyHours: history.hours }),
        ...(deps.enabledClouds !== undefined && { enabledClouds: deps.enabledClouds }),
      });
      const answer: OfferList = {
        matched: ranked.length,
        ...(history !== undefined && { history: { hours: history.hours, runs: history.runs } }),
        offers: ranked.slice(0, top),
        freshness,
      };
      return answer;
    },
  );
}
