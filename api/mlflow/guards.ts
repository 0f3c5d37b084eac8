import type pg from 'pg';
import { type Experiment, getExperiment } from '../../store/experiments';
import type { Queryable } from '../../store/pool';
import { getRunInfo } from '../../store/run-reads';
import type { MlflowRunInfo } from '../../store/run-record';
import { experimentNotFound, invalidValue, runNotFound } from './errors';

// MLflow's checks before a write, shared by the endpoint modules: a deleted run or experiment is
// read-only until restored.

/** Writes go only to runs that exist and are not deleted (MLflow's _check_run_is_active). */
export async function requireActiveRun(pool: pg.Pool, runId: string): Promise<MlflowRunInfo> {
  const info = await getRunInfo(pool, runId);
  if (!info) throw runNotFound(runId);
  if (info.lifecycle_stage !== 'active') {
    throw invalidValue(`The run ${runId} must be in the 'active' state. Current state is ${info.lifecycle_stage}.`);
  }
  return info;
}

/** The experiment, which must exist (any stage) and be active for writes (MLflow's _check_experiment_is_active). */
export async function requireActiveExperiment(db: Queryable, experimentId: string): Promise<Experiment> {
  const experiment = await getExperiment(db, experimentId);
  if (!experiment) throw experimentNotFound(experimentId);
  if (experiment.lifecycle_stage !== 'active') {
    throw invalidValue(`The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycle_stage}.`);
  }
  return experiment;
}
