import { z } from 'zod';
import { PipelineSpec } from './pipeline-spec';

// The wire schemas of the pipeline registry (`/api/v1/code-bundles`, `/api/v1/pipelines`), shared
// by the API, which validates and documents them, and the CLI, which parses the answers.

export const CodeBundleDigest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits>');

/** Git facts the uploading client knew about its folder; recorded with the first upload of a digest. */
export const CodeBundleUploadQuery = z
  .object({
    git_commit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a full git commit hash (40 or 64 lowercase hex digits)').optional(),
    git_branch: z
      .string()
      .min(1)
      .max(255)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]+$/, 'expected a branch name without control characters')
      .optional(),
    git_dirty: z.enum(['true', 'false']).optional(),
  })
  .strict()
  .superRefine((query, ctx) => {
    for (const key of ['git_branch', 'git_dirty'] as const) {
      if (query[key] !== undefined && query.git_commit === undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'only allowed together with git_commit' });
      }
    }
  });
export type CodeBundleUploadQuery = z.infer<typeof CodeBundleUploadQuery>;

export const CodeBundleUploaded = z.object({
  digest: CodeBundleDigest,
  /** Number of files in the bundle. */
  files: z.number().int(),
  /** Their total size, uncompressed. */
  bytes: z.number().int(),
});
export type CodeBundleUploaded = z.infer<typeof CodeBundleUploaded>;

export const CodeBundleInfo = CodeBundleUploaded.extend({
  uri: z.string(),
  git_commit: z.string().optional(),
  git_branch: z.string().optional(),
  git_dirty: z.boolean().optional(),
  created_at: z.number().int(),
});
export type CodeBundleInfo = z.infer<typeof CodeBundleInfo>;

/** The name part of a `name@version` PipelineRef (domain/launch.ts). */
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const NAME_RULE = 'a letter or _, then up to 127 letters, digits, _, . or -';
export const PipelineName = z.string().regex(NAME_RE, `expected a pipeline name: ${NAME_RULE}`);

export const RegisterPipelineBody = z
  .object({
    /** Defaults to the spec's experiment. */
    name: PipelineName.optional(),
    spec: PipelineSpec,
    code: z.object({ bundle: CodeBundleDigest }).strict().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const experiment = (body.spec as PipelineSpec | undefined)?.experiment;
    if (body.name === undefined && experiment !== undefined && !NAME_RE.test(experiment)) {
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: `required, because the experiment name '${experiment}' is not a valid pipeline name (${NAME_RULE})`,
      });
    }
  });
export type RegisterPipelineBody = z.infer<typeof RegisterPipelineBody>;

export const RegisteredPipeline = z.object({
  name: z.string(),
  version: z.number().int(),
  /** sha256 of the canonical JSON of `{spec, code_bundle}`. */
  digest: z.string(),
  created_at: z.number().int(),
});
export type RegisteredPipeline = z.infer<typeof RegisteredPipeline>;

export const PipelineVersionSummary = RegisteredPipeline.extend({ code_bundle: z.string().optional() });
export type PipelineVersionSummary = z.infer<typeof PipelineVersionSummary>;

export const PipelineVersionInfo = PipelineVersionSummary.extend({ spec: PipelineSpec });
export type PipelineVersionInfo = z.infer<typeof PipelineVersionInfo>;

export const PipelineList = z.object({ pipelines: z.array(PipelineVersionSummary) });
export type PipelineList = z.infer<typeof PipelineList>;

