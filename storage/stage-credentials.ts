import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AgentJob, StageCredentials } from '../domain/agent-job';
import { SnapshotManifest } from '../domain/snapshot';
import type { ObjectStore } from './object-store';
import { casUri, readStoredText } from './snapshots';
import { sessionSeconds, stageSessionPolicy, StagePolicyTooLargeError, type StageAccess, type StageScope } from './stage-policy';

/**
 * Everything a stage job reads and writes, from what the agent does with it (agent/run-job.ts):
 * the code bundle; per input its manifest and then the pinned versions under the input URI
 * (version mode) or the content-addressed copies in `cas` (copy mode), or, for an upstream
 * output, the object or folder the URI names; and it writes under its outputs and logs prefixes
 * and its status record. Manifests are read with the caller's (the worker's) store.
 */
export async function stageAccessOf(job: AgentJob, store: ObjectStore): Promise<StageAccess> {
  const read: StageScope[] = [];
  if (job.codeBundleUri) read.push({ uri: job.codeBundleUri, kind: 'object' });
  for (const input of Object.values(job.inputs)) {
    if (!input.manifest) {
      read.push({ uri: input.uri, kind: 'tree' });
      continue;
    }
    read.push({ uri: input.manifest, kind: 'object' });
    const manifest = SnapshotManifest.parse(JSON.parse(await readStoredText(store, input.manifest)));
    if (manifest.mode === 'version') {
      read.push({ uri: manifest.source, kind: 'tree' });
    } else if (input.cas !== undefined) {
      for (const entry of manifest.entries) if (entry.sha256 !== undefined) read.push({ uri: casUri(input.cas, entry.sha256), kind: 'object' });
    }
  }
  const write: StageScope[] = [
    { uri: job.outputsUri, kind: 'prefix' },
    { uri: job.logsUri, kind: 'prefix' },
    ...(job.statusUri ? [{ uri: job.statusUri, kind: 'object' as const }] : []),
  ];
  return { read, write };
}

/** True when the stage touches S3 at all, i.e. when a VM would need AWS credentials for it. */
export const needsAws = (access: StageAccess): boolean => [...access.read, ...access.write].some((s) => s.uri.startsWith('s3://'));

/** Minting was refused for a reason no retry fixes (no such role, not allowed to assume it, a policy or duration AWS rejects). */
export class StageCredentialsError extends Error {
  override readonly name = 'StageCredentialsError';
}

/** Mints a stage's credentials: undefined when it needs none (file:// only). */
export type StageCredentialIssuer = (access: StageAccess, opts: { sessionName: string; stageTimeoutSeconds?: number }) => Promise<StageCredentials | undefined>;

// STS error codes that mean the request itself is wrong or not allowed: retrying gives the same answer.
// (The worker's own expired or unknown keys are left to retries: an instance profile's keys rotate.)
const REFUSALS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'RegionDisabledException',
  'ValidationError',
]);

/**
 * STS AssumeRole of `roleArn` with the stage's session policy (stage-policy.ts), for its timeout
 * plus a margin, within [900, maxSessionSeconds]. The role's own policy must allow at least what
 * stages need (read the data and the artifact root, write run artifacts): the session policy only
 * narrows it, to one stage.
 */
export function createStageCredentialIssuer(opts: { roleArn: string; maxSessionSeconds?: number; sts?: STSClient }): StageCredentialIssuer {
  const partition = /^arn:([^:]+):iam::/.exec(opts.roleArn)?.[1] ?? 'aws';
  let sts = opts.sts;
  return async (access, { sessionName, stageTimeoutSeconds }) => {
    if (!needsAws(access)) return undefined;
    let policy: string;
    try {
      policy = stageSessionPolicy(access, { partition });
    } catch (err) {
      if (err instanceof StagePolicyTooLargeError) throw new StageCredentialsError(err.message);
      throw err;
    }
    const durationSeconds = sessionSeconds(stageTimeoutSeconds, opts.maxSessionSeconds);
    sts ??= createStsClient();
    let answer;
    try {
      answer = await sts.send(new AssumeRoleCommand({ RoleArn: opts.roleArn, RoleSessionName: sessionName.slice(0, 64), Policy: policy, DurationSeconds: durationSeconds }));
    } catch (err) {
      const code = (err as { name?: string }).name ?? '';
      if (!REFUSALS.has(code)) throw err;
      const hint = /duration/i.test((err as Error).message)
        ? ` (the role's MaxSessionDuration must be at least ${durationSeconds} s, or lower stage_credentials_max_seconds; a worker that itself runs under an assumed role gets at most 3600 s)`
        : '';
      throw new StageCredentialsError(`STS AssumeRole of ${opts.roleArn} for a stage was refused: ${code}: ${(err as Error).message}${hint}`);
    }
    const c = answer.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`STS AssumeRole of ${opts.roleArn} answered without credentials`);
    return { access_key_id: c.AccessKeyId, secret_access_key: c.SecretAccessKey, session_token: c.SessionToken, expires_at: c.Expiration.getTime() };
  };
}

/** An STS client configured as the S3 one is (storage/s3-store.ts): the AWS environment, AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL for a local server. */
export function createStsClient(env: NodeJS.ProcessEnv = process.env): STSClient {
  const endpoint = env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return new STSClient({ region, ...(endpoint ? { endpoint } : {}) });
}
