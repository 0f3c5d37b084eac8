import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AzureConfig } from '../clouds/azure/azure-config';
import { VM_CLOUDS } from '../domain/clouds';
import { Cloud } from '../domain/pipeline-spec';

/** One live price source: clouds/pricing/price-sources.ts `PriceSource`, as written in the config file. */
export const PriceSourceConfig = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('aws'),
      regions: z.array(z.string().min(1)).min(1),
      instanceTypes: z.array(z.string().min(1)).optional(),
      endpoint: z.url().optional(),
      name: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('azure'),
      regions: z.array(z.string().min(1)).min(1),
      sizes: z.array(z.string().min(1)).optional(),
      baseUrl: z.url().optional(),
      name: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('gcp'),
      /** Read from this environment variable, so the key never sits in the file. */
      apiKeyEnv: z.string().min(1).optional(),
      regions: z.array(z.string().min(1)).optional(),
      baseUrl: z.url().optional(),
      name: z.string().min(1).optional(),
    })
    .strict(),
]);
export type PriceSourceConfig = z.infer<typeof PriceSourceConfig>;

/**
 * Which clouds stages go to and how to reach them: the file `MLFLEET_CLOUDS_CONFIG` names
 * (`mlfleet emulators` writes one for its local endpoints). Credentials come from each SDK's own
 * chain (AWS_*, Application Default Credentials, DefaultAzureCredential) unless an emulator's are given.
 */
export const CloudsConfig = z
  .object({
    /** `local` keeps CPU stages that fit this machine here (free); the others need their section below. */
    enabled: z.array(Cloud).min(1),
    /** Seconds a lease holds without renewal before the reaper may take its VM. */
    lease_ttl_seconds: z.number().int().min(10).default(600),
    /** How often the reaper sweeps. */
    reaper_interval_seconds: z.number().int().min(1).default(300),
    /** Live price sources refreshed into the offer catalog (clouds/pricing/); the bundled catalog alone when empty. */
    price_sources: z.array(PriceSourceConfig).default([]),
    /** How often the price sources are refreshed. */
    price_refresh_interval_seconds: z.number().int().min(60).default(21_600),
    /**
     * The IAM role the worker assumes (STS AssumeRole) once per stage VM with a session policy
     * that narrows it to that stage: read its inputs, write its outputs, logs and status record.
     * Its own policy must allow what any stage may need (read the data buckets and the artifact
     * root, write under the artifact root) and trust the worker's identity. Absent, VMs get no AWS
     * credentials at all: with an s3:// artifact root they must reach it through an instance profile.
     */
    stage_role_arn: z
      .string()
      .regex(/^arn:[a-z-]+:iam::\d{12}:role\/.+$/, 'expected an IAM role ARN, arn:aws:iam::<account>:role/<name>')
      .optional(),
    /**
     * The longest a stage's credentials may last (seconds, 900-43200): the role's MaxSessionDuration
     * (1 h unless raised), and at most 3600 when the worker itself runs under an assumed role (role chaining).
     */
    stage_credentials_max_seconds: z.number().int().min(900).max(43_200).default(43_200),
    aws: z
      .object({
        image_ids: z.record(z.string(), z.string().min(1)),
        endpoint: z.url().optional(),
        credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .optional(),
    gcp: z
      .object({
        project: z.string().min(1),
        emulator_endpoint: z.url().optional(),
        boot_image: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    azure: AzureConfig.omit({ ca: true })
      .extend({
        ca_file: z.string().min(1).optional(),
        /** A local fake: a placeholder bearer token instead of DefaultAzureCredential. */
        emulator: z.boolean().default(false),
      })
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const cloud of VM_CLOUDS) {
      if (config.enabled.includes(cloud) && !config[cloud]) ctx.addIssue({ code: 'custom', path: [cloud], message: `'${cloud}' is enabled but has no section` });
    }
  });
export type CloudsConfig = z.infer<typeof CloudsConfig>;

/** The clouds config from `MLFLEET_CLOUDS_CONFIG`, or undefined (every stage local) when unset. */
export function loadCloudsConfig(env: NodeJS.ProcessEnv = process.env): CloudsConfig | undefined {
  const file = env.MLFLEET_CLOUDS_CONFIG;
  if (!file) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`MLFLEET_CLOUDS_CONFIG=${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = CloudsConfig.safeParse(raw);
  if (!parsed.success) throw new Error(`MLFLEET_CLOUDS_CONFIG=${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
