import { z } from 'zod';
import { ParamValue } from './param-value';

/**
 * One input of a job: an upstream stage's output (immutable, read as is), or data pinned to a
 * snapshot manifest, which the agent materializes exactly (by S3 version or from the
 * content-addressed store `cas`), whatever the source holds now.
 */
export const AgentInput = z
  .object({
    uri: z.string(),
    manifest: z.string().optional(),
    cas: z.string().optional(),
  })
  .strict();
export type AgentInput = z.infer<typeof AgentInput>;

/**
 * Temporary AWS credentials for one stage (STS AssumeRole with a session policy): read its inputs,
 * write its outputs, logs and status record, nothing else (storage/stage-credentials.ts).
 */
export const StageCredentials = z
  .object({
    access_key_id: z.string().min(1),
    secret_access_key: z.string().min(1),
    session_token: z.string().min(1),
    /** Epoch milliseconds after which AWS refuses them. */
    expires_at: z.number(),
  })
  .strict();
export type StageCredentials = z.infer<typeof StageCredentials>;

/** What the agent is told to do: the contract between a stage and the agent that runs it, as one JSON document. */
export const AgentJob = z
  .object({
    /** The stage command with `${params.*}`, `${inputs.*}` and `${outputs.*}` still in it. */
    command: z.string().min(1),
    params: z.record(z.string(), ParamValue),
    codeBundleUri: z.string().optional(),
    /** Input name → where to materialize it from. */
    inputs: z.record(z.string(), AgentInput),
    /** Output name → path relative to the working directory. */
    outputs: z.record(z.string(), z.string()),
    /** Prefix the outputs are uploaded under, one sub-prefix per output name. */
    outputsUri: z.string(),
    /** Prefix for the stage's stdout and stderr logs (run artifacts). */
    logsUri: z.string(),
    /** Where a VM's agent uploads its status record too (the provider cannot read the VM's disk). */
    statusUri: z.string().optional(),
    env: z.record(z.string(), z.string()),
    /**
     * A VM's only AWS credentials, when the stage touches s3:// and a stage role is configured. The
     * boot script hands them to the agent as AWS_* variables; they never reach job.json.
     */
    credentials: StageCredentials.optional(),
  })
  .strict();
export type AgentJob = z.infer<typeof AgentJob>;

/** What the agent reports when it is done, whatever happened. */
export const AgentStatus = z.object({
  exit_code: z.number().int(),
  started_at: z.number(),
  ended_at: z.number(),
  outputs: z.record(z.string(), z.string()),
  /** Output name → digest of its files (sha256 of the canonical JSON of their paths, sizes and hashes). */
  output_digests: z.record(z.string(), z.string()).optional(),
  /** Set when the agent itself failed (bad bundle, missing output), not just the command. */
  error: z.string().optional(),
  signal: z.string().optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

/** Environment variable name for an input or output: `MLFLEET_INPUT_DATASET` for `dataset`. */
export const contractEnvName = (kind: 'INPUT' | 'OUTPUT', name: string): string =>
  `MLFLEET_${kind}_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
