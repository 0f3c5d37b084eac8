import { writeFile } from 'node:fs/promises';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { renderBootScript } from '../../clouds/boot-script';
import { AgentJob } from '../../domain/agent-job';
import type { SnapshotManifest } from '../../domain/snapshot';
import { vmEnvironment } from '../../emulators/vm-host';
import type { ObjectStore } from '../../storage/object-store';
import { credentialsFromEnv } from '../../storage/aws-credentials';
import { createStageCredentialIssuer, stageAccessOf, StageCredentialsError } from '../../storage/stage-credentials';
import { stageSessionPolicy } from '../../storage/stage-policy';
import { stageCredentialsLine } from '../../server/cloud-drivers';
import { CloudsConfig } from '../../server/cloud-config';

// Stage VM credentials: what a job reads and writes, the STS call, and how the
// credentials reach the agent and nothing else.

const RUN = 's3://art/mlfleet/1/r1/artifacts';
const hash = (c: string) => c.repeat(64);

const manifests: Record<string, SnapshotManifest> = {
  's3://art/mlfleet/snapshots/v.json': { source: 's3://data/raw/', mode: 'version', entries: [{ path: 'a.csv', size: 1, version_id: 'v1' }] },
  's3://art/mlfleet/snapshots/c.json': { source: 's3://plain/raw/', mode: 'copy', entries: [{ path: 'a.csv', size: 1, sha256: hash('a') }, { path: 'b.csv', size: 1, sha256: hash('b') }] },
};
// The worker's store, as far as reading manifests goes.
const store = { download: (uri: string, local: string) => writeFile(local, JSON.stringify(manifests[uri])) } as unknown as ObjectStore;

const job = (overrides: Partial<AgentJob> = {}): AgentJob => ({
  command: 'true',
  params: {},
  codeBundleUri: 's3://art/mlfleet/code-bundles/sha256-cc.tar.gz',
  inputs: {
    raw: { uri: 's3://data/raw/', manifest: 's3://art/mlfleet/snapshots/v.json', cas: 's3://art/mlfleet/cas' },
    plain: { uri: 's3://plain/raw/', manifest: 's3://art/mlfleet/snapshots/c.json', cas: 's3://art/mlfleet/cas' },
    table: { uri: 's3://art/mlfleet/1/r0/artifacts/outputs/table/t.parquet' },
  },
  outputs: { model: 'model.bin' },
  outputsUri: `${RUN}/outputs`,
  logsUri: `${RUN}/logs`,
  statusUri: `${RUN}/mlfleet/attempt-1/status.json`,
  env: {},
  ...overrides,
});

test('a job reads its code, manifests, the pinned versions or cas copies and upstream outputs, and writes outputs, logs and status', async () => {
  expect(await stageAccessOf(job(), store)).toEqual({
    read: [
      { uri: 's3://art/mlfleet/code-bundles/sha256-cc.tar.gz', kind: 'object' },
      { uri: 's3://art/mlfleet/snapshots/v.json', kind: 'object' },
      { uri: 's3://data/raw/', kind: 'tree' },
      { uri: 's3://art/mlfleet/snapshots/c.json', kind: 'object' },
      { uri: `s3://art/mlfleet/cas/aa/${hash('a')}`, kind: 'object' },
      { uri: `s3://art/mlfleet/cas/bb/${hash('b')}`, kind: 'object' },
      { uri: 's3://art/mlfleet/1/r0/artifacts/outputs/table/t.parquet', kind: 'tree' },
    ],
    write: [
      { uri: `${RUN}/outputs`, kind: 'prefix' },
      { uri: `${RUN}/logs`, kind: 'prefix' },
      { uri: `${RUN}/mlfleet/attempt-1/status.json`, kind: 'object' },
    ],
  });
});

describe('the issuer', () => {
  const answer = { Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date('2030-01-01T00:00:00Z') } };
  const stubSts = (reply: (input: AssumeRoleCommand['input']) => unknown) => {
    const calls: AssumeRoleCommand['input'][] = [];
    const sts = {
      send: (command: unknown) => {
        if (!(command instanceof AssumeRoleCommand)) throw new Error('unexpected STS command');
        calls.push(command.input);
        return Promise.resolve().then(() => reply(command.input));
      },
    } as unknown as STSClient;
    return { sts, calls };
  };

  test('assumes the role with the session policy, for the configured maximum when the stage has no timeout', async () => {
    const { sts, calls } = stubSts(() => answer);
    const issue = createStageCredentialIssuer({ roleArn: 'arn:aws-us-gov:iam::123456789012:role/stage', maxSessionSeconds: 3600, sts });
    const access = await stageAccessOf(job(), store);
    expect(await issue(access, { sessionName: 'mlfleet-0123456789abcdef01234567' })).toEqual({
      access_key_id: 'ASIAEXAMPLE',
      secret_access_key: 'secret',
      session_token: 'token',
      expires_at: Date.parse('2030-01-01T00:00:00Z'),
    });
    expect(calls).toEqual([
      {
        RoleArn: 'arn:aws-us-gov:iam::123456789012:role/stage',
        RoleSessionName: 'mlfleet-0123456789abcdef01234567',
        Policy: stageSessionPolicy(access, { partition: 'aws-us-gov' }),
        DurationSeconds: 3600,
      },
    ]);
    expect(calls[0]?.Policy).toContain('arn:aws-us-gov:s3:::data/raw/*');
    await issue(access, { sessionName: 'x', stageTimeoutSeconds: 60 });
    expect(calls[1]?.DurationSeconds).toBe(960);
  });

  test('mints nothing for a job on file:// storage only', async () => {
    const { sts, calls } = stubSts(() => answer);
    const issue = createStageCredentialIssuer({ roleArn: 'arn:aws:iam::123456789012:role/stage', sts });
    const local = job({ codeBundleUri: 'file:///a/code.tar.gz', inputs: { x: { uri: 'file:///data/x' } }, outputsUri: 'file:///r/outputs', logsUri: 'file:///r/logs', statusUri: 'file:///r/status.json' });
    expect(await issue(await stageAccessOf(local, store), { sessionName: 'x' })).toBeUndefined();
    expect(calls).toEqual([]);
  });

  test('a refusal is a StageCredentialsError (no retry fixes it); throttling is left to retries', async () => {
    const refused = Object.assign(new Error('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'), { name: 'ValidationError' });
    const issue = createStageCredentialIssuer({ roleArn: 'arn:aws:iam::123456789012:role/stage', sts: stubSts(() => Promise.reject(refused)).sts });
    const access = await stageAccessOf(job(), store);
    const failure = issue(access, { sessionName: 'x' });
    await expect(failure).rejects.toBeInstanceOf(StageCredentialsError);
    await expect(failure).rejects.toThrow(/ValidationError.*MaxSessionDuration.*must be at least 43200 s, or lower stage_credentials_max_seconds/);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    const again = createStageCredentialIssuer({ roleArn: 'arn:aws:iam::123456789012:role/stage', sts: stubSts(() => Promise.reject(throttled)).sts });
    await expect(again(access, { sessionName: 'x' })).rejects.toBe(throttled);
  });

  test('an access too large for a session policy is refused before STS is called', async () => {
    const { sts, calls } = stubSts(() => answer);
    const issue = createStageCredentialIssuer({ roleArn: 'arn:aws:iam::123456789012:role/stage', sts });
    const inputs = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`in${i}`, { uri: `s3://bucket-${i}/data/` }]));
    await expect(issue(await stageAccessOf(job({ inputs }), store), { sessionName: 'x' })).rejects.toThrow(StageCredentialsError);
    expect(calls).toEqual([]);
  });
});

describe('the boot script', () => {
  const credentials = { access_key_id: 'ASIAEXAMPLE', secret_access_key: "se'cret/+=", session_token: 'tok+en/==', expires_at: Date.parse('2030-01-01T00:00:00Z') };

  test('exports the credentials to the agent, and leaves them out of job.json and every argument', () => {
    const script = renderBootScript({ agentUrl: 'http://127.0.0.1:5000/api/v1/agent.js', job: job({ credentials }) });
    expect(script).toContain("export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n");
    expect(script).toContain(`export AWS_SECRET_ACCESS_KEY='se'\\''cret/+='\n`);
    expect(script).toContain("export AWS_SESSION_TOKEN='tok+en/=='\n");
    expect(script).toContain("export AWS_CREDENTIAL_EXPIRATION='2030-01-01T00:00:00.000Z'\nexec node agent.js");
    const encoded = /'([A-Za-z0-9+/=]{40,})'\n/.exec(script)?.[1];
    const written = AgentJob.parse(JSON.parse(Buffer.from(encoded!, 'base64').toString('utf8')));
    expect(written).toEqual(job());
    expect(written.credentials).toBeUndefined();
  });

  test('carries no AWS variable without credentials', () => {
    expect(renderBootScript({ agentUrl: 'http://x/agent.js', job: job() })).not.toContain('AWS_');
  });

  test("the agent reads them back from its environment as the S3 client's only credentials", () => {
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_SESSION_TOKEN: 'T' })).toEqual({ accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' });
    expect(credentialsFromEnv({ AWS_PROFILE: 'worker' })).toBeUndefined();
  });
});

test("an emulated VM starts with the machine's basics and the cloud's network, none of the worker's credentials", () => {
  const host = {
    PATH: '/usr/bin',
    HOME: '/home/worker',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:5001',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'worker-key',
    AWS_SECRET_ACCESS_KEY: 'worker-secret',
    AWS_SESSION_TOKEN: 'worker-token',
    AWS_PROFILE: 'worker',
    AWS_SHARED_CREDENTIALS_FILE: '/home/worker/.aws/credentials',
    AWS_CONFIG_FILE: '/home/worker/.aws/config',
    AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token',
    AWS_ROLE_ARN: 'arn:aws:iam::1:role/worker',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.2/creds',
    GOOGLE_APPLICATION_CREDENTIALS: '/home/worker/gcp.json',
    AZURE_CLIENT_SECRET: 'azure-secret',
    DATABASE_URL: 'postgres://mlfleet:pw@localhost/mlfleet',
  };
  expect(vmEnvironment(host, '/vms/i-1')).toEqual({
    PATH: '/usr/bin',
    HOME: '/vms/i-1',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:5001',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
});

describe('configuration', () => {
  const base = { enabled: ['local'] };

  test('stage_role_arn is an IAM role ARN; the credentials last at most 12 h unless said otherwise', () => {
    expect(CloudsConfig.parse(base)).toMatchObject({ stage_credentials_max_seconds: 43_200 });
    expect(CloudsConfig.parse({ ...base, stage_role_arn: 'arn:aws:iam::123456789012:role/mlfleet-stage', stage_credentials_max_seconds: 3600 })).toMatchObject({
      stage_role_arn: 'arn:aws:iam::123456789012:role/mlfleet-stage',
      stage_credentials_max_seconds: 3600,
    });
    expect(CloudsConfig.safeParse({ ...base, stage_role_arn: 'mlfleet-stage' }).error?.issues[0]?.message).toMatch(/expected an IAM role ARN/);
    expect(CloudsConfig.safeParse({ ...base, stage_credentials_max_seconds: 600 }).success).toBe(false);
  });

  test('the worker says once what VMs get for an s3:// root', () => {
    expect(stageCredentialsLine('file:///var/mlfleet/artifacts', { stage_credentials_max_seconds: 43_200 })).toBeUndefined();
    expect(stageCredentialsLine('s3://art/mlfleet', { stage_credentials_max_seconds: 43_200 })).toMatch(/no stage_role_arn .* no AWS credentials and must reach s3:\/\/art\/mlfleet through their instance profile/);
    expect(stageCredentialsLine('s3://art/mlfleet', { stage_role_arn: 'arn:aws:iam::1:role/s', stage_credentials_max_seconds: 3600 })).toMatch(/temporary credentials of arn:aws:iam::1:role\/s .* at most 3600 s/);
  });
});
