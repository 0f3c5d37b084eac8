import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RunFilterError, parseOrderBy, parseRunFilter } from '../../domain/run-filter';
import { InvalidPageTokenError, SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_THRESHOLD, searchRuns } from '../../store/run-search';
import { type ExperimentViewer, readableAmong } from '../../store/permissions';
import type { MlflowRouteDeps } from './deps';
import { invalidValue } from './errors';
import { Int64, OptString, ViewTypeField, encodeRun, parse, repeated } from './wire';

// MLflow's runs/search: the request, its limits and the endpoint; the query is store/run-search.ts.

export const SearchRunsBody = z.object({
  experiment_ids: z.array(z.string()).nullish(),
  filter: OptString,
  run_view_type: ViewTypeField.nullish(),
  max_results: Int64.nullish(),
  order_by: z.array(z.string()).nullish(),
  page_token: OptString,
});

const repeatedStrings = repeated(z.array(z.string()).nullish());
export const SearchRunsQuery = SearchRunsBody.extend({ experiment_ids: repeatedStrings, order_by: repeatedStrings });

/** `experiment_ids[]=1` and `experiment_ids[0]=1` (querystring_parser's forms) mean `experiment_ids=1`. */
function normalizeQuery(query: unknown): unknown {
  if (typeof query !== 'object' || query === null) return query;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    const list = /^(\w+)\[\d*\]$/.exec(name);
    if (!list) {
      out[name] = out[name] === undefined ? value : ([] as unknown[]).concat(out[name], value);
      continue;
    }
    const base = list[1] as string;
    out[base] = ([] as unknown[]).concat(out[base] ?? [], value);
  }
  return out;
}

/** MLflow's _validate_max_results_param. */
function checkMaxResults(maxResults: number): void {
  if (maxResults < 1) {
    throw invalidValue(`Invalid value ${maxResults} for parameter 'max_results' supplied. It must be a positive integer`);
  }
  if (maxResults > SEARCH_MAX_RESULTS_THRESHOLD) {
    throw invalidValue(`Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${SEARCH_MAX_RESULTS_THRESHOLD}`);
  }
}

/** Registers MLflow's runs/search (POST with a JSON body, GET with query parameters). */
export function registerRunSearchRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  const handle = async (request: z.output<typeof SearchRunsBody>, viewer: ExperimentViewer | undefined) => {
    const maxResults = request.max_results ?? SEARCH_MAX_RESULTS_DEFAULT;
    checkMaxResults(maxResults);
    // Experiments the caller may not read are left out, as if they held no runs.
    const requested = request.experiment_ids ?? [];
    const experimentIds = viewer ? await readableAmong(pool, viewer, requested) : requested;
    try {
      const result = await searchRuns(pool, {
        experimentIds,
        filter: parseRunFilter(request.filter),
        orderBy: parseOrderBy(request.order_by),
        runViewType: request.run_view_type ?? 'ACTIVE_ONLY',
        maxResults,
        ...(request.page_token && { pageToken: request.page_token }),
      });
      // Protobuf JSON omits empty repeated fields and unset ones.
      return {
        ...(result.runs.length > 0 && { runs: result.runs.map(encodeRun) }),
        ...(result.nextPageToken && { next_page_token: result.nextPageToken }),
      };
    } catch (err) {
      if (err instanceof RunFilterError || err instanceof InvalidPageTokenError) throw invalidValue(err.message);
      throw err;
    }
  };

  scope.post('/runs/search', async (request) => handle(parse(SearchRunsBody, request.body), request.viewer));
  scope.get('/runs/search', async (request) => handle(parse(SearchRunsQuery, normalizeQuery(request.query)), request.viewer));
}
