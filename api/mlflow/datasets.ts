import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { logDatasetInputs } from '../../store/datasets';
import { logRunModelInputs } from '../../store/logged-models';
import type { MlflowDatasetInput } from '../../store/run-record';
import type { MlflowRouteDeps } from './deps';
import { invalidValue, missingParameter } from './errors';
import { requireActiveRun } from './guards';
import { OptString, RunRef, parseRunRequest } from './wire';

// MLflow's runs/log-inputs: the datasets a run read, each with its input tags, and the logged models it read.

// Limits from mlflow/utils/validation.py.
const MAX_DATASET_NAME_SIZE = 500;
const MAX_DATASET_DIGEST_SIZE = 36;
const MAX_DATASET_SOURCE_SIZE = 65535;
const MAX_DATASET_SCHEMA_SIZE = 1048575;
const MAX_DATASET_PROFILE_SIZE = 16777215;
const MAX_INPUT_TAG_KEY_SIZE = 255;
const MAX_INPUT_TAG_VALUE_SIZE = 500;

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
  datasets: z.array(z.object({ tags: z.array(InputTagItem).nullish(), dataset: DatasetItem })).nullish(),
  models: z.array(z.object({ model_id: OptString })).nullish(),
});

function validateDatasetInput(input: MlflowDatasetInput): void {
  const tooLong = (what: string, limit: number) => invalidValue(`${what} exceeds the maximum length of ${limit}`);
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

/** Registers MLflow's dataset input endpoint on an MLflow-prefixed scope (see routes.ts). */
export function registerDatasetRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

  scope.post('/runs/log-inputs', async (request) => {
    const { runId, body } = parseRunRequest(LogInputsBody, request.body);
    // MLflow 3 takes models alone; a request with neither names nothing to log.
    if (!body.datasets && !body.models) throw missingParameter('datasets');
    const inputs: MlflowDatasetInput[] = (body.datasets ?? []).map((d) => ({
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
    await logRunModelInputs(pool, runId, (body.models ?? []).map((m) => m.model_id ?? ''));
    return {};
  });
}
