import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../../api/app';
import { bundledCatalog } from '../../clouds/pricing/catalog';
import { OfferList } from '../../domain/placement';
import { fileUriOf } from '../../storage/file-store';
import { getOrCreateExperiment } from '../../store/experiments';
import { insertLaunch, upsertStageRun } from '../../store/launches';
import { createPool } from '../../store/pool';
import { createRun } from '../../store/run-writes';
import { uniqueId } from '../helpers/launches';
import { runMlfleet } from '../helpers/processes';
import { testEnv } from '../helpers/services';

const CHURN = resolve(__dirname, '../../examples/churn/pipeline.yaml');
const HOUR_MS = 3_600_000;

let pool: pg.Pool;
let connection: Connection;
let app: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  pool = createPool(testEnv().databaseUrl);
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  app = buildApp({ pool, temporal: new Client({ connection }), taskQueue: 'offers-test', artifactRoot: fileUriOf(join(testEnv().dataDir, uniqueId('offers'))) });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await connection.close();
  await pool.end();
});

async function get(query: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/api/v1/offers?${query}`);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function offers(query: string): Promise<OfferList> {
  const { status, json } = await get(query);
  expect({ status, json: status === 200 ? 'ok' : json }).toEqual({ status: 200, json: 'ok' });
  return OfferList.parse(json);
}

test('ranks the fitting offers cheapest first, with every cost term, and says how fresh the catalog is', async () => {
  const answer = await offers('gpu=t4&spot=true&top=5');
  const t4Spot = bundledCatalog().offers.filter((o) => o.gpu_type === 'T4' && o.spot_price !== null);
  expect(answer.matched).toBe(t4Spot.length);
  expect(answer.offers).toHaveLength(5);
  for (const ranked of answer.offers) {
    expect(ranked).toMatchObject({ spot: true, hours_source: 'default', expected_hours: 1, egress_usd: 0 });
    expect(ranked.offer.gpu_type).toBe('T4');
    expect(ranked.price_per_hour).toBe(ranked.offer.spot_price);
    expect(ranked.expected_cost_usd).toBeCloseTo(ranked.price_per_hour * (1 + ranked.interruption_penalty), 10);
  }
  const costs = answer.offers.map((r) => r.expected_cost_usd);
  expect(costs).toEqual([...costs].sort((a, b) => a - b));
  // With `spot` unset both markets compete: every T4 offer once per market it has.
  const both = await offers('gpu=t4&top=100');
  const t4 = bundledCatalog().offers.filter((o) => o.gpu_type === 'T4');
  expect(both.matched).toBe(t4Spot.length + t4.length);
  expect(new Set(both.offers.map((r) => r.spot))).toEqual(new Set([true, false]));
  // Nothing cheaper was left out.
  const cheapestSpot = Math.min(...t4Spot.map((o) => o.spot_price ?? Infinity));
  expect(answer.offers[0]?.expected_cost_usd).toBeGreaterThanOrEqual(cheapestSpot);
  expect(answer.freshness[0]).toMatchObject({ source: 'bundled', fetched_at: bundledCatalog().fetchedAt });
  expect(new Set(answer.freshness.flatMap((f) => f.clouds))).toEqual(new Set(['aws', 'gcp', 'azure']));
});

test('constraints, the spec hours and input egress reach the ranking', async () => {
  const onDemand = await offers('gpu=T4&gpu_count=1&spot=false&max_price_per_hour=0.53&clouds=aws,azure&expected_hours=4&top=100');
  expect(onDemand.offers.length).toBeGreaterThan(0);
  for (const r of onDemand.offers) {
    expect(r).toMatchObject({ spot: false, interruption_penalty: 0, hours_source: 'spec', expected_hours: 4 });
    expect(['aws', 'azure']).toContain(r.offer.cloud);
    expect(r.price_per_hour).toBeLessThanOrEqual(0.53);
    expect(r.compute_usd).toBeCloseTo(r.offer.on_demand_price * 4, 10);
  }

  // 500 GB in azure westeurope: the cheapest T4 is then the one next to the data.
  const near = await offers('gpu=T4&spot=true&inputs=azure:westeurope:500000000000&top=3');
  expect(near.offers[0]?.offer).toMatchObject({ cloud: 'azure', region: 'westeurope' });
  expect(near.offers[0]?.egress_usd).toBe(0);
  expect(near.offers[1]?.egress_usd).toBeGreaterThan(0);

  expect((await offers('gpu=B200')).offers).toEqual([]);
});

test("a stage's own history gives its hours: the median of its finished runs that ran", async () => {
  const experiment = uniqueId('offers-history');
  const { experiment_id: experimentId } = await getOrCreateExperiment(pool, experiment, 'file:///tmp/artifacts');
  const stageRun = async (hours: number, fields: { status?: 'FINISHED' | 'FAILED'; source?: 'ran' | 'cached'; stage?: string } = {}) => {
    const launchId = randomUUID();
    await insertLaunch(pool, { launchId, workflowId: `launch-${launchId}`, experimentId, trigger: 'cli', spec: {}, createdAt: 1 });
    const stageRunId = randomUUID().replace(/-/g, '');
    await createRun(pool, { runId: stageRunId, experimentId, name: 's', userId: 'u', startTime: 1, artifactUri: 'file:///a', tags: {} });
    await upsertStageRun(pool, {
      launchId,
      stage: fields.stage ?? 'train',
      runId: stageRunId,
      status: fields.status ?? 'FINISHED',
      startedAt: 1_000,
      endedAt: 1_000 + hours * HOUR_MS,
      source: fields.source ?? 'ran',
    });
  };
  const query = `gpu=T4&experiment=${experiment}&stage=train&top=1`;
  expect((await offers(query)).offers[0]?.hours_source).toBe('default');
  await stageRun(1);
  await stageRun(5);
  await stageRun(2);
  // None of these say how long `train` runs.
  await stageRun(40, { status: 'FAILED' });
  await stageRun(40, { source: 'cached' });
  await stageRun(40, { stage: 'evaluate' });
  const answer = await offers(query);
  expect(answer.history).toEqual({ hours: 2, runs: 3 });
  expect(answer.offers[0]).toMatchObject({ hours_source: 'history', expected_hours: 2 });
  // The spec's own estimate wins.
  expect((await offers(`${query}&expected_hours=0.5`)).offers[0]).toMatchObject({ hours_source: 'spec', expected_hours: 0.5 });
});

test.each([
  ['gpu_count=2', 'gpu_count: needs gpu'],
  ['gpu=T4&top=0', 'top: expected an integer from 1 to 100'],
  ['gpu=T4&top=101', 'top: expected an integer from 1 to 100'],
  ['spot=maybe', "spot: expected 'true' or 'false', got 'maybe'"],
  ['cpus=-1', 'cpus: expected a positive number'],
  ['clouds=aws,ibm', "clouds[1]: expected 'aws', 'gcp', 'azure' or 'local', got 'ibm'"],
  ['inputs=aws:us-east-1:lots', "inputs[0]: expected <cloud>:<region>:<bytes> (cloud aws, gcp, azure or local; region may be empty), got 'aws:us-east-1:lots'"],
  ['experiment=churn', 'stage: experiment and stage go together'],
  ['colour=red', "query: unknown field 'colour'"],
])('%s is a 400 naming the problem', async (query, message) => {
  expect(await get(query)).toEqual({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
});

test('mlfleet plan prints each stage of the example with offers from all three clouds and every cost term', async () => {
  const text = runMlfleet(['plan', CHURN, '--url', baseUrl]);
  expect(await text.exited).toBe(0);
  const output = text.output();
  for (const stage of ['prepare', 'train_logreg', 'train_tree', 'evaluate']) expect(output).toContain(`stage ${stage}: `);
  for (const column of ['PRICE/H', 'HOURS', 'PENALTY', 'COMPUTE', 'EGRESS', 'TOTAL $']) expect(output).toContain(column);
  expect(output).toContain('1× T4, on-demand');
  expect(output).toContain(`bundled: aws, gcp, azure, ${bundledCatalog().offers.length} rows, prices of ${bundledCatalog().fetchedAt}`);

  const json = runMlfleet(['plan', CHURN, '--url', baseUrl, '--json', '--top', '3']);
  expect(await json.exited).toBe(0);
  const plan = JSON.parse(json.output()) as { stages: { stage: string; offers: OfferList['offers'] }[] };
  expect(plan.stages.map((s) => s.stage)).toEqual(['prepare', 'train_logreg', 'train_tree', 'evaluate']);
  for (const stage of plan.stages) expect(stage.offers).toHaveLength(3);
  expect(new Set(plan.stages.flatMap((s) => s.offers.map((r) => r.offer.cloud)))).toEqual(new Set(['aws', 'gcp', 'azure']));
  // Each row of the table is one of those offers, with its cloud, region and type.
  for (const { offer } of plan.stages.flatMap((s) => s.offers)) expect(output).toMatch(new RegExp(`${offer.cloud}\\s+${offer.region}\\s+\\S+\\s+${offer.instance_type.replace(/[.+]/g, '\\$&')}`));
});
