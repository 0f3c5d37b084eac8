import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createStorage } from '../../storage/storage';
import { expectSuitePasses, ReferenceServers, type ReferenceServer } from '../helpers/mlflow-server';
import { startMoto, type Moto } from '../helpers/moto';
import { testEnv } from '../helpers/services';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

/**
 * The compatibility suite (test/compat/, pytest with the stock `mlflow` client pinned in
 * tools/requirements.txt) against mlfleet and against a real `mlflow server` from the same venv on
 * the same PostgreSQL. Both must pass, so the suite checks MLflow's behaviour, not our reading of it.
 * Each runs twice: with a file artifact store (the whole suite) and with an S3 one on moto (the
 * artifact tests).
 */

const BUCKET = 'compat';
const S3_TESTS = 'test/compat/test_artifacts.py';

/** The whole suite, or only the given files of test/compat. */
const runSuite = (trackingUri: string, server: string, files = ['test/compat']): Promise<void> =>
  expectSuitePasses(files, { MLFLOW_TRACKING_URI: trackingUri }, server);

/** The keys under `prefix` in the bucket: proof that a server wrote to S3 and not elsewhere. */
async function keysUnder(prefix: string): Promise<string[]> {
  const s3 = moto.client();
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (page.Contents ?? []).map((object) => object.Key ?? '');
  } finally {
    s3.destroy();
  }
}

let ctx: WorkflowTestContext;
let moto: Moto;
const references = new ReferenceServers();
let refFile: ReferenceServer;
let refS3: ReferenceServer;
let mlfleetFile: string;
let mlfleetS3: string;

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBucket(BUCKET);
  ctx = await createWorkflowTestContext();
  mlfleetFile = await ctx.startApi('mlflow-compat-test');
  mlfleetS3 = await ctx.startApi('mlflow-compat-s3-test', { artifactRoot: `s3://${BUCKET}/mlfleet`, storage: createStorage({ s3Client: moto.client() }) });
  [refFile, refS3] = await Promise.all([
    references.start(join(mkdtempSync(join(testEnv().dataDir, 'mlflow-ref-artifacts-')), 'artifacts')),
    references.start(`s3://${BUCKET}/mlflow`, { env: moto.env }),
  ]);
}, 180_000);

afterAll(async () => {
  await references.stopAll();
  await ctx?.close();
  await moto?.stop();
});

describe('MLflow compatibility suite (stock mlflow client, test/compat)', () => {
  test('passes against a real mlflow server (file artifact store)', async () => {
    await runSuite(refFile.url, `mlflow server ${refFile.url}`);
  }, 240_000);

  test('passes against mlfleet (file:// artifact root)', async () => {
    await runSuite(mlfleetFile, `mlfleet ${mlfleetFile}`);
  }, 240_000);

  // Only the artifact tests depend on the store; the rest ran above.
  test('artifacts pass against a real mlflow server (S3 artifact store on moto)', async () => {
    await runSuite(refS3.url, `mlflow server ${refS3.url}, s3`, [S3_TESTS]);
    expect(await keysUnder('mlflow/')).toEqual(expect.arrayContaining([expect.stringMatching(/^mlflow\/\d+\/\w+\/artifacts\/folder\/nested\/deeper\/c\.bin$/)]));
  }, 120_000);

  test('artifacts pass against mlfleet (s3:// artifact root on moto)', async () => {
    await runSuite(mlfleetS3, `mlfleet ${mlfleetS3}, s3`, [S3_TESTS]);
    expect(await keysUnder('mlfleet/')).toEqual(expect.arrayContaining([expect.stringMatching(/^mlfleet\/\d+\/\w+\/artifacts\/folder\/nested\/deeper\/c\.bin$/)]));
  }, 120_000);
});
