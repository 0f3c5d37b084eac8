import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runArtifactUri } from '../../activities/tracking';
import type { LaunchProgress } from '../../domain/launch';
import { startEmulators, type Emulators } from '../../emulators/start';
import { joinUri } from '../../storage/object-store';
import { parseS3Uri } from '../../storage/s3-store';
import { createCloudDeps } from '../../server/cloud-drivers';
import { workflowLivenessOf } from '../../client/maintenance-schedules';
import { launchWorkflowId, stageWorkflowId } from '../../workflows/ids';
import { launch, makeCodeDir, uniqueId } from '../helpers/launches';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Stage VMs get only short-lived credentials scoped to their own inputs and outputs:
// stages placed on the emulated clouds with an s3:// artifact root on moto, which also
// serves STS AssumeRole. moto does not evaluate session policies (its IAM checks read only the
// role's own policies), so what the credentials may do is covered by the policy's unit tests, not here.

const DATA = 'creds-data';
const ARTIFACTS = 'creds-artifacts';
const ROOT = `s3://${ARTIFACTS}/mlfleet`;
const ROLE = 'arn:aws:iam::123456789012:role/mlfleet-stage';
const MAX_SECONDS = 3600;
// The worker's own identity, in the environment and in credential files, none of which a VM may see
// (AWS_PROFILE too, in test/unit/stage-credentials.test.ts: with keys set beside it the SDK warns).
const WORKER_AWS = {
  AWS_ACCESS_KEY_ID: 'worker-env-key',
  AWS_SECRET_ACCESS_KEY: 'worker-env-secret',
  AWS_SESSION_TOKEN: 'worker-env-session',
};

let ctx: WorkflowTestContext;
let emulators: Emulators;
let s3: S3Client;
const taskQueue = uniqueId('stage-creds');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  emulators = await startEmulators(join(ctx.dataDir, 'emulators'), { enabled: ['aws', 'gcp'] });
  const moto = emulators.endpoints.moto;
  const awsDir = join(ctx.dataDir, 'worker-aws');
  mkdirSync(awsDir, { recursive: true });
  writeFileSync(join(awsDir, 'credentials'), '[default]\naws_access_key_id = worker-profile-key\naws_secret_access_key = worker-profile-secret\n');
  writeFileSync(join(awsDir, 'config'), '[default]\nregion = us-east-1\n');
  // The worker reaches S3 and STS on moto as it would AWS: through the standard environment.
  Object.assign(process.env, {
    ...WORKER_AWS,
    AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'credentials'),
    AWS_CONFIG_FILE: join(awsDir, 'config'),
    AWS_ENDPOINT_URL: moto,
    AWS_REGION: 'us-east-1',
  });
  s3 = new S3Client({ endpoint: moto, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  for (const bucket of [DATA, ARTIFACTS]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: DATA, VersioningConfiguration: { Status: 'Enabled' } }));
  const apiUrl = await ctx.startApi(taskQueue);
  const config = { ...emulators.config, stage_role_arn: ROLE, stage_credentials_max_seconds: MAX_SECONDS };
  const clouds = createCloudDeps(config, { agentUrl: `${apiUrl}/api/v1/agent.js`, workflowLiveness: workflowLivenessOf(ctx.client) });
  await ctx.runWorker(taskQueue, { clouds, artifactRoot: ROOT });
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  s3?.destroy();
  await emulators?.stop();
});

const gpu = (cloud: 'aws' | 'gcp') => ({ gpu: { type: 'T4', count: 1 }, clouds: [cloud] });

async function readS3(uri: string): Promise<string> {
  const { bucket, key } = parseS3Uri(uri);
  return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

/** The boot script and folder of the one VM a stage ran on. */
async function vmOf(cloud: 'aws' | 'gcp', stage: string, progress: LaunchProgress) {
  const vms = (await emulators.controls[cloud].vms()).filter((vm) => vm.tags['mlfleet-stage'] === stage && vm.tags['mlfleet-launch'] === progress.launch_id);
  expect(vms).toHaveLength(1);
  const dir = join(ctx.dataDir, 'emulators', cloud, vms[0]!.id);
  return { dir, script: readFileSync(join(dir, 'boot.sh'), 'utf8') };
}

const exported = (script: string, name: string): string | undefined => new RegExp(`^export ${name}='([^']*)'$`, 'm').exec(script)?.[1];

/** Every string and decoded payload in a workflow's history. */
function historyText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(historyText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(historyText).join('\n');
  return '';
}

test('stages on emulated VMs get their own temporary credentials, nothing else of AWS, and still read their pinned input and write their outputs', async () => {
  const prefix = uniqueId('raw');
  await s3.send(new PutObjectCommand({ Bucket: DATA, Key: `${prefix}/a.csv`, Body: 'a,1\n' }));
  const experiment = uniqueId('creds');
  const spec = {
    experiment,
    stages: {
      copy: {
        command: 'cat ${inputs.raw}/a.csv > ${outputs.copy} && env > ${outputs.env}',
        inputs: { raw: `s3://${DATA}/${prefix}/` },
        outputs: { copy: 'copy.csv', env: 'env.txt' },
        resources: gpu('aws'),
        cache: { enabled: false },
      },
      report: {
        command: 'sh hello.sh > ${outputs.report} && cat ${inputs.copy} >> ${outputs.report}',
        inputs: { copy: 'stages.copy.outputs.copy' },
        outputs: { report: 'report.txt' },
        resources: gpu('gcp'),
        cache: { enabled: false },
      },
    },
  };
  const startedAt = Date.now();
  const { handle } = await launch(ctx.client, taskQueue, { spec, code: { dir: makeCodeDir(ctx.dataDir) }, trigger: 'cli' });
  const progress = await handle.result();
  expect(progress.stages.map((s) => [s.name, s.status])).toEqual([
    ['copy', 'FINISHED'],
    ['report', 'FINISHED'],
  ]);
  expect(progress.stages[0]?.input_digests?.raw).toMatch(/^sha256:/);

  // End to end through the scoped credentials: the pinned input read by version, the upstream output read, the code bundle unpacked.
  const outputsOf = (stage: number) => joinUri(runArtifactUri(ROOT, progress.experiment_id!, progress.stages[stage]!.run_id), 'outputs');
  expect(await readS3(joinUri(outputsOf(0), 'copy', 'copy.csv'))).toBe('a,1\n');
  expect(await readS3(joinUri(outputsOf(1), 'report', 'report.txt'))).toBe('hello from the bundle\na,1\n');

  const secrets: string[] = [];
  const keys: string[] = [];
  for (const [cloud, stage] of [
    ['aws', 'copy'],
    ['gcp', 'report'],
  ] as const) {
    const { dir, script } = await vmOf(cloud, stage, progress);
    const [keyId, secret, token, expiration] = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION'].map((name) => exported(script, name));
    // moto's AssumeRole answer: a temporary key (ASIA…), a session token, an expiry within the configured lifetime.
    expect(keyId).toMatch(/^ASIA/);
    expect(token).toMatch(/^FQoGZXIvYXdzEBYaD/);
    expect(secret).toBeTruthy();
    const expiresAt = Date.parse(expiration!);
    expect(expiresAt).toBeGreaterThan(startedAt + (MAX_SECONDS - 60) * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + MAX_SECONDS * 1000 + 5_000);
    for (const value of [...Object.values(WORKER_AWS), 'worker-profile']) expect(script).not.toContain(value);
    // job.json on the VM's disk carries no secret.
    const jobJson = readFileSync(join(dir, 'mlfleet-job', 'job.json'), 'utf8');
    expect(jobJson).not.toContain(secret!);
    expect(jobJson).not.toContain(token!);
    secrets.push(secret!, token!);
    keys.push(keyId!);
  }
  // One session per VM.
  expect(new Set(keys).size).toBe(2);

  // What the stage's process saw: its credentials and the cloud's endpoint, nothing of the worker's.
  const env = Object.fromEntries(
    (await readS3(joinUri(outputsOf(0), 'env', 'env.txt')))
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const { script } = await vmOf('aws', 'copy', progress);
  expect(Object.keys(env).filter((name) => name.startsWith('AWS_')).sort()).toEqual([
    'AWS_ACCESS_KEY_ID',
    'AWS_CREDENTIAL_EXPIRATION',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_ENDPOINT_URL',
    'AWS_REGION',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ]);
  expect(env.AWS_ACCESS_KEY_ID).toBe(exported(script, 'AWS_ACCESS_KEY_ID'));
  expect(env.AWS_SESSION_TOKEN).toBe(exported(script, 'AWS_SESSION_TOKEN'));
  expect(env.AWS_ENDPOINT_URL).toBe(emulators.endpoints.moto);
  expect(Object.values(env).join('\n')).not.toMatch(/worker-(env|profile)|worker-aws/);
  expect(env.HOME).not.toBe(process.env.HOME);
  expect(existsSync(join(env.HOME!, '.aws'))).toBe(false);

  // The credentials never travel through a workflow payload: not in the launch's history nor in the stages'.
  for (const workflowId of [launchWorkflowId(progress.launch_id), stageWorkflowId(progress.launch_id, 'copy'), stageWorkflowId(progress.launch_id, 'report')]) {
    const text = historyText(await ctx.client.workflow.getHandle(workflowId).fetchHistory());
    expect(text).toContain(progress.launch_id);
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}, 180_000);
