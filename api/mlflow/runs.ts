import { randomInt, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { logDatasetInputs } from '../../store/datasets';
import { getExperiment, getOrCreateExperiment } from '../../store/experiments';
import {
  LOGGED_MODELS_TAG,
  RUN_NAME_TAG,
  USER_TAG,
  createRun,
  deleteTag,
  getMetricHistory,
  getMetricSteps,
  getMetricsAtSteps,
  getRunInfo,
  getTagForUpdate,
  lockRun,
  setRunLifecycleStage,
  setTags,
  type MetricCursor,
  type MlflowDatasetInput,
} from '../../store/runs';
import type { ArtifactRepository } from '../../storage/artifact-repository';
import { isProxiedArtifactUri, resolveProxiedArtifactUri, safeRelativePath } from './artifacts-proxy';
import { MlflowError, experimentNotFound, runNotFound } from './errors';
import type { MlflowRouteDeps } from './routes';
import { type ExperimentViewer, readableAmong } from '../../store/permissions';
import { type Queryable, withTransaction } from '../../store/pool';
import {
  Int64,
  KeyValueItem,
  MAX_TAG_VAL_LENGTH,
  OptString,
  ReqString,
  RunRef,
  encodeDouble,
  encodeRun,
  normpath,
  parse,
  parseRunRequest,
  requireActiveRun,
  toTag,
  validateValue,
} from './wire';

// MLflow's run endpoints beyond the minimal set: create, delete/restore, delete-tag, log-inputs,
// log-model, metric history (paged and bulk-sampled) and the artifact listing of file:// and s3:// runs.

// ---- limits (mlflow/utils/validation.py, mlflow/server/handlers.py) -----------------------------

const MAX_DATASET_NAME_SIZE = 500;
const MAX_DATASET_DIGEST_SIZE = 36;
const MAX_DATASET_SOURCE_SIZE = 65535;
const MAX_DATASET_SCHEMA_SIZE = 1048575;
const MAX_DATASET_PROFILE_SIZE = 16777215;
const MAX_INPUT_TAG_KEY_SIZE = 255;
const MAX_INPUT_TAG_VALUE_SIZE = 500;
/** get-history-bulk-interval: run ids per request, default and maximum sampled steps, points per run. */
export const MAX_RUNS_GET_METRIC_HISTORY_BULK = 100;
export const MAX_RESULTS_PER_RUN = 2500;
export const MAX_RESULTS_GET_METRIC_HISTORY = 25000;

// ---- run names (mlflow/utils/name_utils.py) -----------------------------------------------------

const NAME_NOUNS = (
  'ant ape asp auk bass bat bear bee bird boar bug calf carp cat chick chimp cod colt conch cow crab crane croc crow ' +
  'cub deer doe dog dolphin donkey dove duck eel elk fawn finch fish flea fly foal fowl fox frog gnat gnu goat goose ' +
  'grouse grub gull hare hawk hen hog horse hound jay kit kite koi lamb lark loon lynx mare midge mink mole moose moth ' +
  'mouse mule newt owl ox panda penguin perch pig pug quail ram rat ray robin roo rook seal shad shark sheep shoat ' +
  'shrew shrike shrimp skink skunk sloth slug smelt snail snake snipe sow sponge squid squirrel stag steed stoat stork ' +
  'swan tern toad trout turtle vole wasp whale wolf worm wren yak zebra'
).split(' ');
const NAME_PREDICATES = (
  'abundant able abrasive adorable adaptable adventurous aged agreeable ambitious amazing amusing angry auspicious ' +
  'awesome bald beautiful bemused bedecked big bittersweet blushing bold bouncy brawny bright burly bustling calm ' +
  'capable carefree capricious caring casual charming chill classy clean clumsy colorful crawling dapper debonair ' +
  'dashing defiant delicate delightful dazzling efficient enchanting entertaining enthused exultant fearless flawless ' +
  'fortunate fun funny gaudy gentle gifted glamorous grandiose gregarious handsome hilarious honorable illustrious ' +
  'incongruous indecisive industrious intelligent inquisitive intrigued invincible judicious kindly languid learned ' +
  'legendary likeable loud luminous luxuriant lyrical magnificent marvelous masked melodic merciful mercurial ' +
  'monumental mysterious nebulous nervous nimble nosy omniscient orderly overjoyed peaceful painted persistent placid ' +
  'polite popular powerful puzzled rambunctious rare rebellious respected resilient righteous receptive redolent ' +
  'resilient rogue rumbling salty sassy secretive selective sedate serious shivering skillful sincere skittish silent ' +
  'smiling sneaky sophisticated spiffy stately suave stylish tasteful thoughtful thundering traveling treasured ' +
  'trusting unequaled upset unique unleashed useful upbeat unruly valuable vaunted victorious welcoming whimsical ' +
  'wistful wise worried youthful zealous'
).split(' ');

const pick = (words: readonly string[]): string => words[randomInt(words.length)] as string;

/** MLflow's _generate_random_name: "<predicate>-<noun>-<0..1000>", at most 20 characters. */
export function generateRunName(): string {
  let name = '';
  for (let i = 0; i < 10; i++) {
    name = `${pick(NAME_PREDICATES)}-${pick(NAME_NOUNS)}-${randomInt(1001)}`;
    if (name.length <= 20) return name;
  }
  return name.slice(0, 20);
}

// ---- request schemas ------------------------------------------------------------------------------

const CreateRunBody = z.object({
  experiment_id: OptString,
  user_id: OptString,
  run_name: OptString,
  start_time: Int64.nullish(),
  tags: z.array(KeyValueItem).nullish(),
});
const RunIdBody = z.object({ ...RunRef });
const DeleteTagBody = z.object({ ...RunRef, key: ReqString });
const InputTagItem = z.object({ key: z.string(), value: z.string() });
const DatasetItem = z.object({
  name: z.string(),
  digest: z.string(),
  source_type: z.string(),
  source: z.string(),
  schema: OptString,
  profile: OptString,
});
const LogInputsBody = z.object({
  ...RunRef,
  datasets: z.array(z.object({ tags: z.array(InputTagItem).nullish(), dataset: DatasetItem })),
});
const LogModelBody = z.object({ ...RunRef, model_json: ReqString });
const PositiveInt = Int64.pipe(z.number().int().min(1));
const GetHistoryQuery = z.object({ ...RunRef, metric_key: ReqString, max_results: PositiveInt.optional(), page_token: OptString });
/** A repeated query field given once arrives as a bare string (MLflow wraps it into a list). */
const Repeated = z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(z.string().min(1)).min(1));
const BulkIntervalQuery = z.object({
  run_ids: Repeated,
  metric_key: ReqString,
  start_step: Int64.optional(),
  end_step: Int64.optional(),
  max_results: Int64.optional(),
});
const ListArtifactsQuery = z.object({ ...RunRef, path: z.string().optional(), page_token: OptString });

// ---- helpers ------------------------------------------------------------------------------------

function validateDatasetInput(input: MlflowDatasetInput): void {
  const tooLong = (what: string, limit: number) =>
    new MlflowError('INVALID_PARAMETER_VALUE', `${what} exceeds the maximum length of ${limit}`);
  const { dataset } = input;
  if (dataset.name.length > MAX_DATASET_NAME_SIZE) throw tooLong('Dataset name', MAX_DATASET_NAME_SIZE);
  if (dataset.digest.length > MAX_DATASET_DIGEST_SIZE) throw tooLong('Dataset digest', MAX_DATASET_DIGEST_SIZE);
  if (dataset.source.length > MAX_DATASET_SOURCE_SIZE) throw tooLong('Dataset source', MAX_DATASET_SOURCE_SIZE);
  if ((dataset.schema?.length ?? 0) > MAX_DATASET_SCHEMA_SIZE) throw tooLong('Dataset schema', MAX_DATASET_SCHEMA_SIZE);
  if ((dataset.profile?.length ?? 0) > MAX_DATASET_PROFILE_SIZE) throw tooLong('Dataset profile', MAX_DATASET_PROFILE_SIZE);
  for (const tag of input.tags) {
    if (tag.key.length > MAX_INPUT_TAG_KEY_SIZE) throw tooLong('InputTag key', MAX_INPUT_TAG_KEY_SIZE);
    if (tag.value.length > MAX_INPUT_TAG_VALUE_SIZE) throw tooLong('InputTag value', MAX_INPUT_TAG_VALUE_SIZE);
  }
}

/** Python's json.dumps with its defaults (", " and ": " separators, ensure_ascii), as MLflow writes tags. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`)
    .join(', ')}}`;
}

const MODEL_REQUIRED_FIELDS = ['artifact_path', 'flavors', 'run_id', 'utc_time_created'];

function parseModelJson(modelJson: string): Record<string, unknown> {
  let model: unknown;
  try {
    model = JSON.parse(modelJson);
  } catch {
    model = undefined;
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
  }
  const missing = MODEL_REQUIRED_FIELDS.filter((field) => !(field in model));
  if (missing.length > 0) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Model json is missing mandatory fields: {${missing.map((f) => `'${f}'`).join(', ')}}`,
    );
  }
  return model as Record<string, unknown>;
}

// Metric history page tokens: the last point's ordering key, base64 JSON (±Infinity as strings).
const PageToken = z.object({ step: z.number(), timestamp: z.number(), is_nan: z.boolean(), value: z.string() });

const encodePageToken = (c: MetricCursor): string =>
  Buffer.from(JSON.stringify({ step: c.step, timestamp: c.timestamp, is_nan: c.isNan, value: String(c.value) })).toString('base64');

function decodePageToken(token: string): MetricCursor {
  try {
    const raw = PageToken.parse(JSON.parse(Buffer.from(token, 'base64').toString('utf8')));
    const value = Number(raw.value);
    if (Number.isNaN(value)) throw new Error('bad value');
    return { step: raw.step, timestamp: raw.timestamp, isNan: raw.is_nan, value };
  } catch {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid page token, could not base64-decode or parse: ${JSON.stringify(token)}`);
  }
}

/** MLflow's _get_sampled_steps_from_steps (mlflow/server/handlers.py); `steps` sorted, all in range. */
export function sampleSteps(steps: readonly number[], maxResults: number): Set<number> {
  if (steps.length <= maxResults) return new Set(steps);
  const interval = steps.length / maxResults;
  const sampled = new Set<number>();
  for (let i = 0; i < maxResults; i++) {
    const idx = Math.floor(i * interval);
    if (idx < steps.length) sampled.add(steps[idx] as number);
  }
  sampled.add(steps.at(-1) as number);
  return sampled;
}

interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** MLflow's ArtifactRepository.list_artifacts: direct children, run-relative paths, sorted; [] if no folder. */
async function listRunArtifacts(artifacts: ArtifactRepository, path: string | undefined): Promise<FileInfo[]> {
  const prefix = path ? normpath(path) : '.';
  const entries = await artifacts.list(prefix === '.' ? '' : prefix);
  return entries.map((entry) => {
    const filePath = prefix === '.' ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDir ? { path: filePath, is_dir: true } : { path: filePath, is_dir: false, file_size: entry.size };
  });
}

// ---- routes -------------------------------------------------------------------------------------

/** The runs among `runIds` whose experiment the viewer may read (a hidden run reads as one with no metrics). */
async function readableRuns(db: Queryable, viewer: ExperimentViewer | undefined, runIds: string[]): Promise<string[]> {
  if (!viewer || runIds.length === 0) return runIds;
  const { rows } = await db.query('SELECT run_uuid, experiment_id FROM runs WHERE run_uuid = ANY($1::text[])', [runIds]);
  const experimentOf = new Map(rows.map((raw) => {
    const row = z.object({ run_uuid: z.string(), experiment_id: z.number().int() }).parse(raw);
    return [row.run_uuid, String(row.experiment_id)] as const;
  }));
  const readable = new Set(await readableAmong(db, viewer, [...new Set(experimentOf.values())]));
  return runIds.filter((id) => readable.has(experimentOf.get(id) ?? ''));
}

export function registerRunRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.post('/runs/create', async (request) => {
    const body = parse(CreateRunBody, request.body);
    const experimentId = body.experiment_id || '0';
    const tags = (body.tags ?? []).map((t, i) => toTag(t, `tags[${i}].`));
    let experiment = await getExperiment(pool, experimentId);
    if (!experiment) throw experimentNotFound(experimentId);
    if (experiment.lifecycle_stage !== 'active') {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycle_stage}.`,
      );
    }
    const nameTag = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (body.run_name && nameTag && body.run_name !== nameTag) {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values " +
          `(run_name='${body.run_name}', mlflow.runName='${nameTag}').`,
      );
    }
    if (experiment.artifact_location === undefined && deps.artifactRoot !== undefined) {
      experiment = await getOrCreateExperiment(pool, experiment.name, deps.artifactRoot);
    }
    // MLflow's proxied-artifacts default when no location is known.
    const location = (experiment.artifact_location ?? `mlflow-artifacts:/${experiment.experiment_id}`).replace(/\/+$/, '');
    const runId = randomUUID().replace(/-/g, '');
    const name = body.run_name || nameTag || generateRunName();
    const userId = body.user_id || tags.filter((t) => t.key === USER_TAG).at(-1)?.value || 'unknown';
    const run = await createRun(pool, {
      runId,
      experimentId: experiment.experiment_id,
      name,
      userId,
      startTime: body.start_time ?? Date.now(),
      artifactUri: `${location}/${runId}/artifacts`,
      tags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
    return { run: encodeRun(run) };
  });

  scope.post('/runs/delete', async (request) => {
    const { runId } = parseRunRequest(RunIdBody, request.body);
    await setRunLifecycleStage(pool, runId, 'deleted', Date.now());
    return {};
  });

  scope.post('/runs/restore', async (request) => {
    const { runId } = parseRunRequest(RunIdBody, request.body);
    await setRunLifecycleStage(pool, runId, 'active', Date.now());
    return {};
  });

  scope.post('/runs/delete-tag', async (request) => {
    const { runId, body } = parseRunRequest(DeleteTagBody, request.body);
    await requireActiveRun(pool, runId);
    if (!(await deleteTag(pool, runId, body.key))) {
      throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${body.key} in run with id ${runId}`);
    }
    return {};
  });

  scope.post('/runs/log-inputs', async (request) => {
    const { runId, body } = parseRunRequest(LogInputsBody, request.body);
    const inputs: MlflowDatasetInput[] = body.datasets.map((d) => ({
      tags: d.tags ?? [],
      dataset: {
        name: d.dataset.name,
        digest: d.dataset.digest,
        source_type: d.dataset.source_type,
        source: d.dataset.source,
        ...(d.dataset.schema !== undefined && { schema: d.dataset.schema }),
        ...(d.dataset.profile !== undefined && { profile: d.dataset.profile }),
      },
    }));
    inputs.forEach(validateDatasetInput);
    const run = await requireActiveRun(pool, runId);
    await logDatasetInputs(pool, run.experiment_id, runId, inputs);
    return {};
  });

  scope.post('/runs/log-model', async (request) => {
    const { runId, body } = parseRunRequest(LogModelBody, request.body);
    const model = parseModelJson(body.model_json);
    await requireActiveRun(pool, runId);
    await withTransaction(pool, async (tx) => {
      await lockRun(tx, runId);
      const previous = await getTagForUpdate(tx, runId, LOGGED_MODELS_TAG);
      let history: unknown[] = [];
      if (previous !== undefined) {
        try {
          const parsed: unknown = JSON.parse(previous);
          if (Array.isArray(parsed)) history = parsed;
        } catch {
          // A hand-edited tag that is not a JSON list is replaced, as nothing could append to it.
        }
      }
      const entry = pythonJsonDumps(model);
      // The model dict carries its creation time (and uuid), so an equal entry is a replayed request.
      if (history.some((m) => pythonJsonDumps(m) === entry)) return;
      const value = pythonJsonDumps([...history, model]);
      validateValue(value, 'Tag value', MAX_TAG_VAL_LENGTH);
      await setTags(tx, runId, [{ key: LOGGED_MODELS_TAG, value }]);
    });
    return {};
  });

  scope.get('/metrics/get-history', async (request) => {
    const { runId, body } = parseRunRequest(GetHistoryQuery, request.query);
    const after = body.page_token ? decodePageToken(body.page_token) : undefined;
    // An unknown run has no history: `mlflow server` answers an empty list, not 404.
    const page = await getMetricHistory(pool, runId, body.metric_key, {
      ...(body.max_results !== undefined && { limit: body.max_results }),
      ...(after && { after }),
    });
    return {
      metrics: page.metrics.map((m) => ({ ...m, value: encodeDouble(m.value) })),
      ...(page.next && { next_page_token: encodePageToken(page.next) }),
    };
  });

  scope.get('/metrics/get-history-bulk-interval', async (request) => {
    const query = { ...(request.query as Record<string, unknown>) };
    // MLflow's query parser reads `run_ids[]` as `run_ids`.
    if (query.run_ids === undefined && query['run_ids[]'] !== undefined) query.run_ids = query['run_ids[]'];
    const body = parse(BulkIntervalQuery, query);
    if (body.run_ids.length > MAX_RUNS_GET_METRIC_HISTORY_BULK) {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `GetMetricHistoryBulkInterval request must specify at most ${MAX_RUNS_GET_METRIC_HISTORY_BULK} run_ids. ` +
          `Received ${body.run_ids.length} run_ids.`,
      );
    }
    const maxResults = body.max_results ?? MAX_RESULTS_PER_RUN;
    if (maxResults < 1 || maxResults > MAX_RESULTS_PER_RUN) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `max_results must be between 1 and ${MAX_RESULTS_PER_RUN}.`);
    }
    if ((body.start_step === undefined) !== (body.end_step === undefined)) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', 'If either start step or end step are specified, both must be specified.');
    }
    if (body.start_step !== undefined && body.end_step !== undefined && body.start_step > body.end_step) {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `end_step must be greater than start_step. Found start_step=${body.start_step} and end_step=${body.end_step}.`,
      );
    }
    const runIds = await readableRuns(pool, request.viewer, [...new Set(body.run_ids)]);
    const { steps: allSteps, runMinMax } = await getMetricSteps(pool, runIds, body.metric_key);
    // Without a range: from step 0 to the last step logged by any run.
    const start = body.start_step ?? 0;
    const end = body.end_step ?? allSteps.at(-1) ?? 0;
    const inRange = (step: number) => start <= step && step <= end;
    const steps = allSteps.filter(inRange);
    if (steps.length === 0) return { metrics: [] };
    // Each run's first and last step stay, so every curve keeps its ends.
    const sampled = sampleSteps(steps, maxResults);
    for (const step of runMinMax) if (inRange(step)) sampled.add(step);
    const metrics = await getMetricsAtSteps(pool, runIds, body.metric_key, [...sampled], MAX_RESULTS_GET_METRIC_HISTORY);
    return { metrics: metrics.map((m) => ({ key: m.key, value: encodeDouble(m.value), timestamp: m.timestamp, step: m.step, run_id: m.run_id })) };
  });

  scope.get('/artifacts/list', async (request) => {
    const { runId, body } = parseRunRequest(ListArtifactsQuery, request.query);
    if (body.path !== undefined) safeRelativePath(body.path);
    const run = await getRunInfo(pool, runId);
    if (!run) throw runNotFound(runId);
    // mlflow-artifacts:/… roots are served by the proxy from the artifact root (api/mlflow/artifacts-proxy.ts).
    const storageUri =
      deps.artifactRoot !== undefined && isProxiedArtifactUri(run.artifact_uri) ? resolveProxiedArtifactUri(deps.artifactRoot, run.artifact_uri) : run.artifact_uri;
    if (!/^(file|s3):\/\//.test(storageUri)) {
      throw new MlflowError(
        'NOT_IMPLEMENTED',
        `Listing artifacts is only supported for file:// and s3:// artifact URIs; run ${runId} stores them at ${run.artifact_uri}`,
      );
    }
    const files = await listRunArtifacts(deps.artifactsAt(storageUri), body.path);
    return { root_uri: run.artifact_uri, files };
  });
}
