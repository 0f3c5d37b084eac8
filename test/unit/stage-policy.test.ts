import { sessionSeconds, stageSessionPolicy, StagePolicyTooLargeError, type StageAccess } from '../../storage/stage-policy';

// The session policy a stage VM's credentials carry: exactly its reads and writes.

const RUN = 's3://art/mlfleet/1/r1/artifacts';
const CAS = 's3://art/mlfleet/cas';
const sha = (c: string) => c.repeat(64);

/** A stage with two inputs: data pinned by version, and an upstream stage's output. */
const twoInputs: StageAccess = {
  read: [
    { uri: 's3://art/mlfleet/code-bundles/sha256-cc.tar.gz', kind: 'object' },
    { uri: 's3://art/mlfleet/snapshots/sha256-aa.json', kind: 'object' },
    { uri: 's3://data/churn/raw/', kind: 'tree' },
    { uri: 's3://art/mlfleet/1/r0/artifacts/outputs/table/table.parquet', kind: 'tree' },
  ],
  write: [
    { uri: `${RUN}/outputs`, kind: 'prefix' },
    { uri: `${RUN}/logs`, kind: 'prefix' },
    { uri: `${RUN}/mlfleet/attempt-1/status.json`, kind: 'object' },
  ],
};

const writeOnly = twoInputs.write;
const parse = (policy: string) => JSON.parse(policy) as { Version: string; Statement: Array<Record<string, unknown>> };

test('two inputs: read and list exactly those, write exactly the outputs, logs and status', () => {
  const policy = stageSessionPolicy(twoInputs);
  expect(parse(policy)).toEqual({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Read',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: [
          'arn:aws:s3:::art/mlfleet/1/r0/artifacts/outputs/table/table.parquet',
          'arn:aws:s3:::art/mlfleet/1/r0/artifacts/outputs/table/table.parquet/*',
          'arn:aws:s3:::art/mlfleet/code-bundles/sha256-cc.tar.gz',
          'arn:aws:s3:::art/mlfleet/snapshots/sha256-aa.json',
          'arn:aws:s3:::data/churn/raw',
          'arn:aws:s3:::data/churn/raw/*',
        ],
      },
      {
        Sid: 'List1',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::art',
        Condition: { StringLike: { 's3:prefix': ['mlfleet/1/r0/artifacts/outputs/table/table.parquet/*'] } },
      },
      { Sid: 'List2', Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::data', Condition: { StringLike: { 's3:prefix': ['churn/raw/*'] } } },
      {
        Sid: 'Write',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: ['arn:aws:s3:::art/mlfleet/1/r1/artifacts/logs/*', 'arn:aws:s3:::art/mlfleet/1/r1/artifacts/mlfleet/attempt-1/status.json', 'arn:aws:s3:::art/mlfleet/1/r1/artifacts/outputs/*'],
      },
    ],
  });
  // Compact JSON: the plaintext AWS measures against its 2048 characters.
  expect(policy).not.toMatch(/\s/);
});

test('file:// scopes are left out, covered and repeated scopes appear once, and the partition comes from the caller', () => {
  const policy = parse(
    stageSessionPolicy(
      {
        read: [
          { uri: 'file:///data/raw', kind: 'tree' },
          { uri: 's3://data/raw/', kind: 'tree' },
          { uri: 's3://data/raw/a.csv', kind: 'object' },
          { uri: 's3://data/raw', kind: 'object' },
          { uri: 's3://data/raw/sub', kind: 'tree' },
        ],
        write: [...writeOnly, { uri: `${RUN}/outputs/model/model.bin`, kind: 'object' }, { uri: 'file:///tmp/out', kind: 'prefix' }],
      },
      { partition: 'aws-cn' },
    ),
  );
  expect(policy.Statement.map((s) => s.Resource)).toEqual([
    ['arn:aws-cn:s3:::data/raw', 'arn:aws-cn:s3:::data/raw/*'],
    'arn:aws-cn:s3:::data',
    ['arn:aws-cn:s3:::art/mlfleet/1/r1/artifacts/logs/*', 'arn:aws-cn:s3:::art/mlfleet/1/r1/artifacts/mlfleet/attempt-1/status.json', 'arn:aws-cn:s3:::art/mlfleet/1/r1/artifacts/outputs/*'],
  ]);
});

test('wildcard characters in keys are literal', () => {
  const policy = parse(stageSessionPolicy({ read: [{ uri: 's3://data/odd*name%3F$/', kind: 'tree' }], write: [] }));
  expect(policy.Statement[0]?.Resource).toEqual(['arn:aws:s3:::data/odd${*}name${?}${$}', 'arn:aws:s3:::data/odd${*}name${?}${$}/*']);
  expect(policy.Statement[1]?.Condition).toEqual({ StringLike: { 's3:prefix': ['odd${*}name${?}${$}/*'] } });
});

describe('collapsing to shorter covering prefixes', () => {
  // A copy-mode snapshot: its bytes are content-addressed objects under cas/<2 hex>/<sha256>.
  const casReads = (...hashes: string[]) => hashes.map((h) => ({ uri: `${CAS}/${h.slice(0, 2)}/${h}`, kind: 'object' as const }));
  const access: StageAccess = { read: [...casReads(sha('a'), `aa${sha('b').slice(2)}`, sha('c')), { uri: 's3://data/raw/', kind: 'tree' }], write: writeOnly };
  const readResources = (policy: string) => parse(policy).Statement.find((s) => s.Sid === 'Read')?.Resource;

  test('nothing is collapsed while the policy fits', () => {
    expect(readResources(stageSessionPolicy(access))).toEqual([
      `arn:aws:s3:::art/mlfleet/cas/aa/${sha('a')}`,
      `arn:aws:s3:::art/mlfleet/cas/aa/aa${sha('b').slice(2)}`,
      `arn:aws:s3:::art/mlfleet/cas/cc/${sha('c')}`,
      'arn:aws:s3:::data/raw',
      'arn:aws:s3:::data/raw/*',
    ]);
  });

  test('the deepest shared folder goes first, then the next level up, never a whole bucket; collapsed objects stay unlisted', () => {
    const full = stageSessionPolicy(access).length;
    const once = stageSessionPolicy(access, { maxChars: full - 1 });
    expect(readResources(once)).toEqual(['arn:aws:s3:::art/mlfleet/cas/aa/*', `arn:aws:s3:::art/mlfleet/cas/cc/${sha('c')}`, 'arn:aws:s3:::data/raw', 'arn:aws:s3:::data/raw/*']);
    const twice = stageSessionPolicy(access, { maxChars: once.length - 1 });
    expect(readResources(twice)).toEqual(['arn:aws:s3:::art/mlfleet/cas/*', 'arn:aws:s3:::data/raw', 'arn:aws:s3:::data/raw/*']);
    // Only the data folder is listable: the cas objects are read by name.
    expect(parse(twice).Statement.filter((s) => s.Action === 's3:ListBucket').map((s) => s.Resource)).toEqual(['arn:aws:s3:::data']);
    // Writes are never widened.
    expect(parse(twice).Statement.find((s) => s.Sid === 'Write')?.Resource).toEqual(parse(once).Statement.find((s) => s.Sid === 'Write')?.Resource);
  });

  test('a large snapshot (2,500 cas objects) collapses to the cas folder within 2048 characters', () => {
    const hashes = Array.from({ length: 2500 }, (_, i) => (i * 2654435761 % 2 ** 32).toString(16).padStart(8, '0').repeat(8));
    const started = Date.now();
    const policy = stageSessionPolicy({ read: [...casReads(...hashes), { uri: 's3://data/raw/', kind: 'tree' }], write: writeOnly });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(policy.length).toBeLessThanOrEqual(2048);
    expect(readResources(policy)).toEqual(['arn:aws:s3:::art/mlfleet/cas/*', 'arn:aws:s3:::data/raw', 'arn:aws:s3:::data/raw/*']);
  });

  test('listed folders stay listable when collapsed with them', () => {
    const reads: StageAccess['read'] = [
      { uri: 's3://art/mlfleet/1/r0/artifacts/outputs/a/a.txt', kind: 'tree' },
      { uri: 's3://art/mlfleet/1/r0/artifacts/outputs/b/b.txt', kind: 'tree' },
    ];
    const full = stageSessionPolicy({ read: reads, write: [] }).length;
    const policy = parse(stageSessionPolicy({ read: reads, write: [] }, { maxChars: full - 1 }));
    expect(policy.Statement[0]?.Resource).toEqual(['arn:aws:s3:::art/mlfleet/1/r0/artifacts/outputs/*']);
    expect(policy.Statement[1]?.Condition).toEqual({ StringLike: { 's3:prefix': ['mlfleet/1/r0/artifacts/outputs/*'] } });
  });
});

test('a policy that cannot fit even collapsed is a StagePolicyTooLargeError that says why', () => {
  const read = Array.from({ length: 40 }, (_, i) => ({ uri: `s3://bucket-${i}/data/`, kind: 'tree' as const }));
  let caught: unknown;
  try {
    stageSessionPolicy({ read, write: writeOnly });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StagePolicyTooLargeError);
  expect((caught as Error).message).toMatch(/needs a \d+-character session policy even with its 40 read scope\(s\) collapsed to shared folders \(AWS allows 2048\).*41 bucket\(s\)/);
});

test('an access with nothing on S3 is a policy that allows nothing', () => {
  expect(parse(stageSessionPolicy({ read: [{ uri: 'file:///x', kind: 'tree' }], write: [] })).Statement).toEqual([{ Sid: 'Nothing', Effect: 'Deny', Action: 's3:*', Resource: '*' }]);
});

test('session length: the stage timeout plus 15 minutes, within [900, 43200] and the role maximum', () => {
  expect(sessionSeconds(undefined)).toBe(43_200);
  expect(sessionSeconds(undefined, 3600)).toBe(3600);
  expect(sessionSeconds(0)).toBe(900);
  expect(sessionSeconds(600)).toBe(1500);
  expect(sessionSeconds(7200)).toBe(8100);
  expect(sessionSeconds(7200, 3600)).toBe(3600);
  expect(sessionSeconds(100_000)).toBe(43_200);
  expect(sessionSeconds(100_000, 99_999)).toBe(43_200);
  expect(sessionSeconds(60, 300)).toBe(900);
});
