import { LaunchProgress, type LaunchInput } from '../domain/launch';

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

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

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiRequestError(0, `cannot reach mlfleet at ${this.baseUrl} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); is \`mlfleet up\` running? Set MLFLEET_URL or --url otherwise.`);
    }
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (!response.ok) {
      const message = (parsed as { message?: unknown }).message;
      throw new ApiRequestError(response.status, typeof message === 'string' ? message : `HTTP ${response.status}`);
    }
    return parsed;
  }
}
