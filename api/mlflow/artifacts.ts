import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getRunInfo } from '../../store/run-reads';
import type { ArtifactRepository } from '../../storage/artifact-repository';
import { isProxiedArtifactUri, resolveProxiedArtifactUri, safeRelativePath } from './artifacts-proxy';
import type { MlflowRouteDeps } from './deps';
import { MlflowError, runNotFound } from './errors';
import { OptString, RunRef, normpath, parseRunRequest } from './wire';

// MLflow's artifacts/list over a run's artifact URI, file:// or s3://; the proxied artifact service
// (mlflow-artifacts) is artifacts-proxy.ts.

const ListArtifactsQuery = z.object({ ...RunRef, path: z.string().optional(), page_token: OptString });

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

/** Registers MLflow's artifact listing on an MLflow-prefixed scope (see routes.ts). */
export function registerArtifactRoutes(scope: FastifyInstance, deps: MlflowRouteDeps): void {
  const { pool } = deps;

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
