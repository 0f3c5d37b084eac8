import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { canonicalJson } from '../../domain/canonical-json';
import {
  PipelineList,
  PipelineName,
  PipelineVersionInfo,
  type PipelineVersionSummary,
  RegisteredPipeline,
  RegisterPipelineBody,
} from '../../domain/pipeline-registry';
import type { PipelineSpec } from '../../domain/pipeline-spec';
import type { ObjectStore } from '../../storage/object-store';
import { getCodeBundle } from '../../store/code-bundles';
import { getPipelineVersion, listPipelineVersions, type PipelineVersion, registerPipelineVersion } from '../../store/pipelines';
import { MlflowError } from '../mlflow/errors';
import { codeBundleRoutes } from './code-bundles';
import { SIGNED_IN } from '../auth/access-rule';
import { claimExperiment } from '../auth/experiment-claim';
import { experimentNamedBy } from '../auth/locators';
import { type ExperimentViewer, readableNames } from '../../store/permissions';
import { v1Route } from './route';
import { digestOf } from '../../storage/digest';

export interface PipelineRoutesDeps {
  pool: pg.Pool;
  artifactRoot: string;
  store: ObjectStore;
}

const ListQuery = z.object({ name: PipelineName.optional() }).strict();
const VersionParams = z
  .object({
    name: PipelineName,
    version: z.string().regex(/^[1-9][0-9]{0,8}$/, 'expected a version number (1, 2, …)').transform(Number),
  })
  .strict();

const versionNotFound = (name: string, version: string): MlflowError =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `Pipeline version '${name}@${version}' not found`);

/** The experiment a stored spec writes into (stored specs were validated when registered). */
const experimentOfSpec = (spec: unknown): string | undefined => {
  const experiment = (spec as { experiment?: unknown } | null)?.experiment;
  return typeof experiment === 'string' ? experiment : undefined;
};

const summary = (v: PipelineVersion): PipelineVersionSummary => ({
  name: v.name,
  version: v.version,
  digest: v.digest,
  ...(v.codeBundle !== undefined ? { code_bundle: v.codeBundle } : {}),
  created_at: v.createdAt,
});

/** What a registration is keyed by: the same spec with the same code is the same version. */
export const pipelineDigest = (spec: PipelineSpec, codeBundle: string | undefined): string =>
  digestOf(canonicalJson({ spec, code_bundle: codeBundle }));

/**
 * The pipeline registry: uploaded code bundles (api/v1/code-bundles.ts) and numbered, immutable
 * pipeline versions (`POST/GET /api/v1/pipelines`, `GET /api/v1/pipelines/:name/versions/:version`).
 */
export function registerPipelineRoutes(app: FastifyInstance, deps: PipelineRoutesDeps): void {
  void app.register(codeBundleRoutes, deps);
  const { pool } = deps;

  /** The versions whose experiment the viewer may read. */
  async function visibleTo(viewer: ExperimentViewer | undefined, versions: PipelineVersion[]): Promise<PipelineVersion[]> {
    if (!viewer) return versions;
    const readable = await readableNames(pool, viewer, versions.map((v) => experimentOfSpec(v.spec)).filter((n) => n !== undefined));
    return versions.filter((v) => readable.has(experimentOfSpec(v.spec) ?? ''));
  }

  v1Route<RegisterPipelineBody, undefined, undefined>(
    app,
    {
      method: 'POST',
      path: '/api/v1/pipelines',
      summary: 'Register a pipeline version (spec plus optional uploaded code); 200 with the existing version when the same spec and code were registered before',
      body: RegisterPipelineBody,
      status: 201,
      response: RegisteredPipeline,
      access: { kind: 'experiment-by-body', need: 'EDIT' },
    },
    async ({ body, reply, request }) => {
      const name = body.name ?? body.spec.experiment;
      // A pipeline belongs to its spec's experiment: registering one is writing into it.
      await claimExperiment(deps, request, body.spec.experiment);
      const codeBundle = body.code?.bundle;
      if (codeBundle !== undefined && !(await getCodeBundle(pool, codeBundle))) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', `code.bundle: unknown code bundle '${codeBundle}'; upload it first (POST /api/v1/code-bundles)`);
      }
      const version = await registerPipelineVersion(pool, {
        name,
        spec: body.spec,
        digest: pipelineDigest(body.spec, codeBundle),
        ...(codeBundle !== undefined ? { codeBundle } : {}),
        createdAt: Date.now(),
      });
      const answer: RegisteredPipeline = { name: version.name, version: version.version, digest: version.digest, created_at: version.createdAt };
      return version.created ? answer : reply.status(200).send(answer);
    },
  );

  v1Route<undefined, z.infer<typeof ListQuery>, undefined>(
    app,
    {
      method: 'GET',
      path: '/api/v1/pipelines',
      summary: 'The latest version of every registered pipeline, or every version of one (`?name=`), newest first',
      query: ListQuery,
      response: PipelineList,
      access: SIGNED_IN,
    },
    async ({ query, request }) => {
      const versions = await visibleTo(request.viewer, await listPipelineVersions(pool, query.name));
      if (query.name !== undefined) return { pipelines: versions.map(summary) };
      // Newest first within each name: the first row of a name is its latest version.
      const latest = versions.filter((v, i) => versions[i - 1]?.name !== v.name);
      return { pipelines: latest.map(summary) };
    },
  );

  v1Route<undefined, undefined, z.infer<typeof VersionParams>>(
    app,
    {
      method: 'GET',
      path: '/api/v1/pipelines/:name/versions/:version',
      summary: 'One registered pipeline version, with its spec and code bundle',
      params: VersionParams,
      response: PipelineVersionInfo,
      errors: [404],
      access: {
        kind: 'experiment',
        need: 'READ',
        locate: experimentNamedBy(
          pool,
          async (request) => {
            const { name, version } = request.params as { name: string; version: string };
            const found = await getPipelineVersion(pool, name, Number(version)).catch(() => undefined);
            return found && experimentOfSpec(found.spec);
          },
          (request) => {
            const { name, version } = request.params as { name: string; version: string };
            return versionNotFound(name, version);
          },
        ),
      },
    },
    async ({ params }) => {
      const version = await getPipelineVersion(pool, params.name, params.version);
      if (!version) throw versionNotFound(params.name, String(params.version));
      return { ...summary(version), spec: version.spec };
    },
  );
}
