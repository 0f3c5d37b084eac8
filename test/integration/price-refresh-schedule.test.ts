import type { RefreshResult } from '../../activities/prices';
import { freePort } from '../../server/free-port';
import { priceRefreshScheduleId, ensurePriceRefreshSchedule } from '../../client/maintenance-schedules';
import { uniqueId } from '../helpers/launches';
import { eventually } from '../helpers/eventually';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// The scheduled live price refresh: the workflow its schedule starts refreshes every
// configured source through the worker; a source that fails is recorded and placement keeps the
// catalog it had. (Good refreshes are covered by price-refresh.test.ts inside rolled-back
// transactions: a stored good snapshot would change every other test's offers.)

let ctx: WorkflowTestContext;
const taskQueue = uniqueId('prices');
let source: string;

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  source = uniqueId('azure-unreachable');
  // Nothing listens on a port just freed: the refresh fails to connect.
  const closed = await freePort();
  await ctx.runWorker(taskQueue, {
    clouds: {
      drivers: {},
      enabled: ['local'],
      agentUrl: 'http://127.0.0.1:9/api/v1/agent.js',
      leaseTtlMs: 600_000,
      workflowLiveness: () => Promise.resolve('unknown'),
      priceSources: [{ kind: 'azure', name: source, regions: ['eastus'], baseUrl: `http://127.0.0.1:${closed}` }],
    },
  });
});

afterAll(async () => {
  await ctx.client.schedule
    .getHandle(priceRefreshScheduleId(taskQueue))
    .delete()
    .catch(() => undefined);
  await ctx.close();
});

test('the price refresh schedule runs the refresh; a failing source is recorded and the catalog it had stays', async () => {
  await ensurePriceRefreshSchedule(ctx.client, taskQueue, 60);
  await ctx.client.schedule.getHandle(priceRefreshScheduleId(taskQueue)).trigger();
  const results = await eventually(
    async () => {
      const { rows } = await ctx.pool.query<{ status: string; error: string }>('SELECT status, error FROM offer_snapshots WHERE source = $1', [source]);
      return rows.length > 0 ? rows : undefined;
    },
    30_000,
    'the scheduled refresh',
  );
  expect(results.map((r) => r.status)).toEqual(['failed']);
  expect(results[0]!.error).toMatch(/ECONNREFUSED|fetch failed|connect/);
  const { info } = await ctx.client.schedule.getHandle(priceRefreshScheduleId(taskQueue)).describe();
  const started = info.recentActions[0]!.action;
  const outcome = (await ctx.client.workflow.getHandle(started.workflow.workflowId, started.workflow.firstExecutionRunId).result()) as RefreshResult[];
  expect(outcome).toHaveLength(1);
  expect(outcome[0]).toMatchObject({ source, status: 'failed', cloud: 'azure', rows: 0 });
  expect(outcome[0]!.message).toMatch(/bundled/);
});
