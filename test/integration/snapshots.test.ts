import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { runJob } from '../../agent/run-job';
import { getLaunchProgress } from '../../store/launches';
import { getRun } from '../../store/run-reads';
import { getSnapshot } from '../../store/snapshots';
import { searchRunIds } from '../../store/run-search';
import { parseRunFilter } from '../../domain/run-filter';
import { fileUriOf } from '../../storage/file-store';
import { joinUri } from '../../storage/object-store';
import { pinSnapshot, SnapshotError, writeManifest } from '../../storage/snapshots';
import { createStorage, type Storage } from '../../storage/storage';
import { launch, makeCodeDir, uniqueId } from '../helpers/launches';
import { startMoto, type Moto } from '../helpers/moto';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// Pinned inputs: what a stage reads is fixed when it is pinned, against moto's S3
// (versioned and unversioned buckets) and the file store, through the storage layer, the agent and
// whole launches.

const VERSIONED = 'pinned-data';
const UNVERSIONED = 'plain-data';

let moto: Moto;
let s3: S3Client;
let storage: Storage;
let ctx: WorkflowTestContext;
let scratch: string;
let casRoot: string;
const taskQueue = uniqueId('snapshots');

const put = (bucket: string, key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

beforeAll(async () => {
  moto = await startMoto();
  // The worker's activities and the agents it starts read the AWS environment, as in production.
  Object.assign(process.env, moto.env);
  s3 = moto.client();
  await s3.send(new CreateBucketCommand({ Bucket: VERSIONED }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new CreateBucketCommand({ Bucket: UNVERSIONED }));
  storage = createStorage({ s3Client: s3 });
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  scratch = mkdtempSync(join(ctx.dataDir, 'snap-'));
  casRoot = joinUri(ctx.artifactRoot, 'cas');
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  s3?.destroy();
  await moto?.stop();
});

/** Materializes a pinned snapshot through the agent, as a stage would, and returns the file it read. */
async function readThroughAgent(pinned: Awaited<ReturnType<typeof pinSnapshot>>, file: string): Promise<string> {
  const manifestUri = joinUri(ctx.artifactRoot, 'snapshots', `${uniqueId('m')}.json`);
  await writeManifest(storage.objects, pinned.manifest, manifestUri);
  const jobDir = mkdtempSync(join(scratch, 'job-'));
  const outputsUri = fileUriOf(join(jobDir, 'uploaded'));
  const status = await runJob(
    jobDir,
    {
      command: `cat \${inputs.data}/${file} > \${outputs.copy}`,
      params: {},
      inputs: { data: { uri: pinned.manifest.source, manifest: manifestUri, cas: casRoot } },
      outputs: { copy: 'copy.txt' },
      outputsUri,
      logsUri: fileUriOf(join(jobDir, 'logs')),
      env: {},
    },
    storage.objects,
  );
  expect(status).toMatchObject({ exit_code: 0 });
  return readFileSync(join(jobDir, 'work', 'copy.txt'), 'utf8');
}

describe('pinning S3 prefixes in a versioned bucket', () => {
  test('overwriting or deleting an object after pinning does not change what the stage reads', async () => {
    const prefix = uniqueId('raw');
    await put(VERSIONED, `${prefix}/a.csv`, 'a,1\n');
    await put(VERSIONED, `${prefix}/b.csv`, 'b,2\n');
    const pinned = await pinSnapshot(storage.objects, `s3://${VERSIONED}/${prefix}/`, { copy: false, casRoot });
    expect(pinned.manifest.mode).toBe('version');
    expect(pinned.manifest.entries.map((e) => [e.path, e.size, typeof e.version_id, typeof e.etag])).toEqual([
      ['a.csv', 4, 'string', 'string'],
      ['b.csv', 4, 'string', 'string'],
    ]);
    expect(pinned.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    await put(VERSIONED, `${prefix}/a.csv`, 'a,CHANGED\n');
    await s3.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: `${prefix}/b.csv` }));
    expect(await readThroughAgent(pinned, 'a.csv')).toBe('a,1\n');
    expect(await readThroughAgent(pinned, 'b.csv')).toBe('b,2\n');

    // Pinning again sees the new state: another digest, b.csv gone.
    const again = await pinSnapshot(storage.objects, `s3://${VERSIONED}/${prefix}/`, { copy: false, casRoot });
    expect(again.digest).not.toBe(pinned.digest);
    expect(again.manifest.entries.map((e) => e.path)).toEqual(['a.csv']);
  });

  test('a presigned URL reads the pinned version, whatever the object holds now', async () => {
    const key = `${uniqueId('presign')}/model.bin`;
    await put(VERSIONED, key, 'v1');
    const pinned = await pinSnapshot(storage.objects, `s3://${VERSIONED}/${key}`, { copy: false, casRoot });
    await put(VERSIONED, key, 'v2');
    const versionId = pinned.manifest.entries[0]?.version_id;
    const url = await storage.objects.presignRead(`s3://${VERSIONED}/${key}`, { ...(versionId ? { versionId } : {}), expiresInSeconds: 60 });
    expect(url).toContain('X-Amz-Expires=60');
    expect(await (await fetch(url)).text()).toBe('v1');
    expect(await (await fetch(await storage.objects.presignRead(`s3://${VERSIONED}/${key}`))).text()).toBe('v2');
  });

  test('the same content pins to the same digest; one object pins on its own', async () => {
    const prefix = uniqueId('same');
    await put(VERSIONED, `${prefix}/x.txt`, 'x');
    const uri = `s3://${VERSIONED}/${prefix}`;
    const first = await pinSnapshot(storage.objects, uri, { copy: false, casRoot });
    expect((await pinSnapshot(storage.objects, uri, { copy: false, casRoot })).digest).toBe(first.digest);
    const single = await pinSnapshot(storage.objects, `${uri}/x.txt`, { copy: false, casRoot });
    expect(single.manifest.entries).toEqual([expect.objectContaining({ path: '', size: 1 })]);
  });

  test('pages of a large prefix are streamed: 2,500 objects over three listing pages', async () => {
    const prefix = uniqueId('many');
    for (let i = 0; i < 2500; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, j) => put(VERSIONED, `${prefix}/part-${String(i + j).padStart(5, '0')}`, String(i + j))));
    }
    const pages: number[] = [];
    const pinned = await pinSnapshot(storage.objects, `s3://${VERSIONED}/${prefix}/`, { copy: false, casRoot, onPage: (n) => pages.push(n) });
    expect(pinned.manifest.entries).toHaveLength(2500);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.at(-1)).toBe(2500);
  }, 60_000);
});

describe('buckets without versioning', () => {
  test('are refused with a clear message unless the input opts into copy mode', async () => {
    const prefix = uniqueId('plain');
    await put(UNVERSIONED, `${prefix}/a.txt`, 'first');
    const uri = `s3://${UNVERSIONED}/${prefix}/`;
    const refused = pinSnapshot(storage.objects, uri, { copy: false, casRoot });
    await expect(refused).rejects.toBeInstanceOf(SnapshotError);
    await expect(refused).rejects.toThrow(`${uri}: the bucket does not keep object versions, so it cannot be pinned by version`);

    const copied = await pinSnapshot(storage.objects, uri, { copy: true, casRoot });
    expect(copied.manifest.mode).toBe('copy');
    expect(copied.manifest.entries.map((e) => [e.path, e.size, /^[0-9a-f]{64}$/.test(e.sha256 ?? '')])).toEqual([['a.txt', 5, true]]);
    await put(UNVERSIONED, `${prefix}/a.txt`, 'second');
    expect(await readThroughAgent(copied, 'a.txt')).toBe('first');
  });
});

describe('pinning local files', () => {
  test('bytes are copied into the content-addressed store, so changing the file changes nothing pinned', async () => {
    const dir = mkdtempSync(join(scratch, 'files-'));
    writeFileSync(join(dir, 'table.csv'), 'id,v\n1,2\n');
    const pinned = await pinSnapshot(storage.objects, fileUriOf(dir), { copy: false, casRoot });
    expect(pinned.manifest).toMatchObject({ mode: 'copy', entries: [{ path: 'table.csv', size: 9 }] });
    writeFileSync(join(dir, 'table.csv'), 'id,v\n1,CHANGED\n');
    expect(await readThroughAgent(pinned, 'table.csv')).toBe('id,v\n1,2\n');
    rmSync(join(dir, 'table.csv'));
    expect(await readThroughAgent(pinned, 'table.csv')).toBe('id,v\n1,2\n');
  });

  test('nothing at the URI is a clear error', async () => {
    const missing = fileUriOf(join(scratch, 'nothing-here'));
    await expect(pinSnapshot(storage.objects, missing, { copy: false, casRoot })).rejects.toThrow(`${missing}: nothing is stored there`);
  });
});

describe('launches', () => {
  const spec = (experiment: string, prefix: string) => ({
    experiment,
    stages: {
      count: {
        command: 'ls ${inputs.raw} | wc -l > ${outputs.n}',
        inputs: { raw: `s3://${VERSIONED}/${prefix}/` },
        outputs: { n: 'n.txt' },
      },
      report: { command: 'cat ${inputs.n} > ${outputs.r}', inputs: { n: 'stages.count.outputs.n' }, outputs: { r: 'r.txt' } },
      unrelated: { command: 'echo same > ${outputs.o}', outputs: { o: 'o.txt' } },
    },
  });

  test('a new object version under the prefix changes the snapshot and reruns exactly the dependent stages', async () => {
    const prefix = uniqueId('launch');
    await put(VERSIONED, `${prefix}/1.csv`, '1');
    const experiment = uniqueId('pinned');
    const code = { dir: makeCodeDir(ctx.dataDir) };
    const first = await (await launch(ctx.client, taskQueue, { spec: spec(experiment, prefix), code, trigger: 'cli' })).handle.result();
    expect(first.stages.map((s) => [s.name, s.source])).toEqual([
      ['count', 'ran'],
      ['report', 'ran'],
      ['unrelated', 'ran'],
    ]);
    const digest = first.stages[0]?.input_digests?.raw;
    expect(digest).toMatch(/^sha256:/);
    // Recorded: the snapshot row, the run's dataset input, and the manifest as a run artifact.
    expect(await getSnapshot(ctx.pool, digest!)).toMatchObject({ source: `s3://${VERSIONED}/${prefix}/`, mode: 'version', objects: 1, bytes: 1 });
    const countRun = await getRun(ctx.pool, first.stages[0]!.run_id);
    expect(countRun?.inputs.dataset_inputs.map((i) => [i.dataset.name, i.dataset.digest, i.dataset.source_type])).toEqual([['raw', digest, 'mlfleet_snapshot']]);
    const found = await searchRunIds(ctx.pool, { experimentIds: [first.experiment_id!], filter: parseRunFilter(`datasets.digest = '${digest}'`), orderBy: [], maxResults: 100 });
    expect(found.runIds).toEqual([first.stages[0]!.run_id]);

    // Unchanged data: everything cached.
    const same = await (await launch(ctx.client, taskQueue, { spec: spec(experiment, prefix), code, trigger: 'cli' })).handle.result();
    expect(same.stages.map((s) => s.source)).toEqual(['cached', 'cached', 'cached']);
    expect(same.stages[0]?.input_digests?.raw).toBe(digest);

    await put(VERSIONED, `${prefix}/2.csv`, '2');
    const changed = await (await launch(ctx.client, taskQueue, { spec: spec(experiment, prefix), code, trigger: 'cli' })).handle.result();
    expect(changed.stages.map((s) => [s.name, s.source])).toEqual([
      ['count', 'ran'],
      ['report', 'ran'],
      ['unrelated', 'cached'],
    ]);
    expect(changed.stages[0]?.input_digests?.raw).not.toBe(digest);
    const progress = await getLaunchProgress(ctx.pool, changed.launch_id);
    expect(progress?.stages.map((s) => s.source)).toEqual(['ran', 'ran', 'cached']);
  }, 120_000);

  test('an unversioned bucket fails the stage with the pinning message, and the launch with it', async () => {
    const prefix = uniqueId('unpinned');
    await put(UNVERSIONED, `${prefix}/1.csv`, '1');
    const bad = {
      experiment: uniqueId('unpinned'),
      stages: { read: { command: 'cat ${inputs.raw}/1.csv', inputs: { raw: `s3://${UNVERSIONED}/${prefix}/` } } },
    };
    const { launchId, handle } = await launch(ctx.client, taskQueue, { spec: bad, trigger: 'cli' });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const stored = await getLaunchProgress(ctx.pool, launchId);
    expect(stored?.stages[0]?.status).toBe('FAILED');
    expect(stored?.stages[0]?.error).toContain('does not keep object versions');
  }, 60_000);
});
