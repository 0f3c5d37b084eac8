import { z } from 'zod';
import { ParamValue } from './launch';

/** What the agent is told to do: the stage agent contract of DESIGN.md, as one JSON document. */
export const AgentJob = z
  .object({
    /** The stage command with `${params.*}`, `${inputs.*}` and `${outputs.*}` still in it. */
    command: z.string().min(1),
    params: z.record(z.string(), ParamValue),
    codeBundleUri: z.string().optional(),
    /** Input name → URI of the object or prefix to materialize. */
    inputs: z.record(z.string(), z.string()),
    /** Output name → path relative to the working directory. */
    outputs: z.record(z.string(), z.string()),
    /** Prefix the outputs are uploaded under, one sub-prefix per output name. */
    outputsUri: z.string(),
    /** Prefix for the stage's stdout and stderr logs (run artifacts). */
    logsUri: z.string(),
    env: z.record(z.string(), z.string()),
  })
  .strict();
export type AgentJob = z.infer<typeof AgentJob>;

/** What the agent reports when it is done, whatever happened. */
export const AgentStatus = z.object({
  exit_code: z.number().int(),
  started_at: z.number(),
  ended_at: z.number(),
  outputs: z.record(z.string(), z.string()),
  /** Set when the agent itself failed (bad bundle, missing output), not just the command. */
  error: z.string().optional(),
  signal: z.string().optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

/** Environment variable name for an input or output: `MLFLEET_INPUT_DATASET` for `dataset`. */
export const contractEnvName = (kind: 'INPUT' | 'OUTPUT', name: string): string =>
  `MLFLEET_${kind}_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
