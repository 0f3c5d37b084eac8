import { LaunchProgress, StageAttemptList, type LaunchInput } from '../domain/launch';
import { requestApi } from './http';
import {
  CodeBundleUploaded,
  PipelineList,
  PipelineVersionInfo,
  type PipelineVersionSummary,
  RegisteredPipeline,
} from '../domain/pipeline-registry';

export { ApiRequestError } from './http';

export interface RunSummary {
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

/** The CLI's view of mlfleet's /api/v1: the same routes any other client uses. */
export class MlfleetApi {
  constructor(readonly baseUrl: string) {}

  createLaunch(input: LaunchInput): Promise<LaunchProgress> {
    return this.request('POST', '/api/v1/launches', input).then((body) => LaunchProgress.parse(body));
  }

  getLaunch(launchId: string): Promise<LaunchProgress> {
    return this.request('GET', `/api/v1/launches/${encodeURIComponent(launchId)}`).then((body) => LaunchProgress.parse(body));
  }

  /** Every placement attempt of the launch's stages (where each ran, how it ended, what it cost). */
  getAttempts(launchId: string): Promise<StageAttemptList> {
    return this.request('GET', `/api/v1/launches/${encodeURIComponent(launchId)}/attempts`).then((body) => StageAttemptList.parse(body));
  }

  cancelLaunch(launchId: string): Promise<LaunchProgress> {
    return this.request('POST', `/api/v1/launches/${encodeURIComponent(launchId)}/cancel`, {}).then((body) => LaunchProgress.parse(body));
  }

  /** An MLflow run through the MLflow REST facade, reduced to what the CLI shows. */
  async getRunSummary(runId: string): Promise<RunSummary> {
    const body = (await this.request('GET', `/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`)) as {
      run: { data: { metrics?: { key: string; value: number }[]; tags?: { key: string; value: string }[] } };
    };
    return {
      metrics: Object.fromEntries((body.run.data.metrics ?? []).map((m) => [m.key, m.value])),
      tags: Object.fromEntries((body.run.data.tags ?? []).map((t) => [t.key, t.value])),
    };
  }

  /** Uploads a gzip tar of a code folder (see cli/code-upload.ts); the digest is the server's. */
  async uploadCodeBundle(archive: Buffer, git?: { commit: string; branch?: string; dirty: boolean }): Promise<CodeBundleUploaded> {
    const query = new URLSearchParams();
    if (git) {
      query.set('git_commit', git.commit);
      if (git.branch) query.set('git_branch', git.branch);
      query.set('git_dirty', String(git.dirty));
    }
    const path = `/api/v1/code-bundles${query.size > 0 ? `?${query.toString()}` : ''}`;
    return CodeBundleUploaded.parse(await this.requestRaw('POST', path, archive, 'application/gzip'));
  }

  registerPipeline(body: { name?: string; spec: unknown; code?: { bundle: string } }): Promise<RegisteredPipeline> {
    return this.request('POST', '/api/v1/pipelines', body).then((b) => RegisteredPipeline.parse(b));
  }

  /** The latest version of every pipeline, or every version of `name`, newest first. */
  listPipelines(name?: string): Promise<PipelineVersionSummary[]> {
    const path = `/api/v1/pipelines${name === undefined ? '' : `?name=${encodeURIComponent(name)}`}`;
    return this.request('GET', path).then((b) => PipelineList.parse(b).pipelines);
  }

  getPipelineVersion(name: string, version: number): Promise<PipelineVersionInfo> {
    return this.request('GET', `/api/v1/pipelines/${encodeURIComponent(name)}/versions/${version}`).then((b) => PipelineVersionInfo.parse(b));
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    return requestApi(this.baseUrl, method, path, body === undefined ? undefined : { json: body });
  }

  private requestRaw(method: string, path: string, raw: Buffer, contentType: string): Promise<unknown> {
    return requestApi(this.baseUrl, method, path, { raw, contentType });
  }
}
