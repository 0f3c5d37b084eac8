import { ApplicationFailure } from '@temporalio/activity';
import { getPipelineVersion } from '../store/pipelines';
import type { ActivityDeps } from './deps';

export interface ResolvePipelineInput {
  /** `name@version`, already checked against PipelineRef. */
  ref: string;
}

export interface ResolvedPipeline {
  /** The registered spec as stored; the launch's opening checks it like any other spec. */
  spec: unknown;
  codeBundle?: string;
  /** sha256 of the canonical `{spec, code_bundle}`: the registered version's identity. */
  digest: string;
}

/** Pipeline-registry activities: reading registered (immutable) pipeline versions. */
export function createPipelineActivities(deps: Pick<ActivityDeps, 'pool'>) {
  return {
    async resolvePipeline({ ref }: ResolvePipelineInput): Promise<ResolvedPipeline> {
      const at = ref.lastIndexOf('@');
      const name = ref.slice(0, at);
      const version = Number(ref.slice(at + 1));
      const found = at > 0 && Number.isInteger(version) && version >= 1 ? await getPipelineVersion(deps.pool, name, version) : undefined;
      if (!found) throw ApplicationFailure.nonRetryable(`unknown pipeline version '${ref}'`, 'UnknownPipeline');
      return { spec: found.spec, digest: found.digest, ...(found.codeBundle !== undefined ? { codeBundle: found.codeBundle } : {}) };
    },
  };
}
