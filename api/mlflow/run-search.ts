import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RunFilterError, parseOrderBy, parseRunFilter } from '../../domain/run-filter';
import {
  InvalidPageTokenError,
  SEARCH_MAX_RESULTS_DEFAULT,
  SEARCH_MAX_RESULTS_THRESHOLD,
  searchRuns,
  type RunViewType,
} from '../../store/run-search';
import { MlflowError } from './errors';
import type { MlflowRouteDeps } from './routes';
import { Int64, OptString, encodeRun, parse } from './wire';
import { type ExperimentViewer, readableAmong } from '../../store/permissions';

const VIEW_TYPES: readonly RunViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];

// Enums arrive by name, or by number as ParseDict also accepts (ACTIVE_ONLY=1, DELETED_ONLY=2, ALL=3).
const ViewTypeField = z.union([
  z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']),
  z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(
    z
      .number()
      .int()
      .min(1)
      .max(3)
      .transform((n) => VIEW_TYPES[n - 1] as RunViewType),
  ),
]);

export const SearchRunsBody = z.object({
  experiment_ids: z.array(z.string()).nullish(),
  filter: OptString,
  run_view_type: ViewTypeField.nullish(),
  max_results: Int64.nullish(),
  order_by: z.array(z.string()).nullish(),
  page_token: OptString,
});

/** A query string gives a repeated field given once as a bare scalar: wrap it, as MLflow's parser does. */
const repeated = z.preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(z.string()).nullish());
export const SearchRunsQuery = SearchRunsBody.extend({ experiment_ids: repeated, order_by: repeated });

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

function invalid(message: string): MlflowError {
  return new MlflowError('INVALID_PARAMETER_VALUE', message);
}

/** MLflow's _validate_max_results_param. */
function checkMaxResults(maxResults: number): void {
  if (maxResults < 1) {
    throw invalid(`Invalid value ${maxResults} for parameter 'max_results' supplied. It must be a positive integer`);
  }
  if (maxResults > SEARCH_MAX_RESULTS_THRESHOLD) {
    throw invalid(`Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${SEARCH_MAX_RESULTS_THRESHOLD}`);
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
      if (err instanceof RunFilterError || err instanceof InvalidPageTokenError) throw invalid(err.message);
      throw err;
    }
  };

  scope.post('/runs/search', async (request) => handle(parse(SearchRunsBody, request.body), request.viewer));
  scope.get('/runs/search', async (request) => handle(parse(SearchRunsQuery, normalizeQuery(request.query)), request.viewer));
}
