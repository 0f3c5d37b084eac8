/**
 * Is Fastify's schema-based serialization (fast-json-stringify) worth having on the MLflow routes?
 * Serves one search_runs page (1000 runs, 10 params, 10 metrics and 5 tags each, MLflow's shape)
 * from two routes of one Fastify app, one with a response schema and one without, and times both
 * through `inject` (no sockets, so only routing and serialization differ).
 *
 *   npx tsx bench/serialization/run.ts [runs-per-page] [iterations]
 */
import { isDeepStrictEqual } from 'node:util';
import Fastify from 'fastify';

const runsPerPage = Number(process.argv[2] ?? 1000);
const iterations = Number(process.argv[3] ?? 200);

const keyValue = { type: 'object', properties: { key: { type: 'string' }, value: { type: 'string' } } };
const metric = {
  type: 'object',
  // NaN and ±Infinity travel as strings in protobuf JSON.
  properties: { key: { type: 'string' }, value: { type: ['number', 'string'] }, timestamp: { type: 'integer' }, step: { type: 'integer' } },
};
const stringFields = ['run_id', 'run_uuid', 'run_name', 'experiment_id', 'user_id', 'status', 'artifact_uri', 'lifecycle_stage'];
const runInfo = {
  type: 'object',
  properties: {
    ...Object.fromEntries(stringFields.map((field) => [field, { type: 'string' }])),
    start_time: { type: 'integer' },
    end_time: { type: 'integer' },
  },
};
const searchRunsResponse = {
  type: 'object',
  properties: {
    runs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          info: runInfo,
          data: {
            type: 'object',
            properties: { metrics: { type: 'array', items: metric }, params: { type: 'array', items: keyValue }, tags: { type: 'array', items: keyValue } },
          },
          inputs: { type: 'object', properties: { dataset_inputs: { type: 'array', items: { type: 'object', additionalProperties: true } } } },
        },
      },
    },
    next_page_token: { type: 'string' },
  },
};

function searchRunsPage(count: number): unknown {
  const runs = Array.from({ length: count }, (_, i) => {
    const runId = i.toString(16).padStart(32, '0');
    return {
      info: {
        run_id: runId,
        run_uuid: runId,
        run_name: `bench-run-${i}`,
        experiment_id: '1',
        user_id: 'bench',
        status: 'FINISHED',
        start_time: 1_700_000_000_000 + i,
        end_time: 1_700_000_100_000 + i,
        artifact_uri: `mlflow-artifacts:/1/${runId}/artifacts`,
        lifecycle_stage: 'active',
      },
      data: {
        metrics: Array.from({ length: 10 }, (_, m) => ({ key: `m${m}`, value: (i * 31 + m) / 997, timestamp: 1_700_000_000_000, step: m })),
        params: Array.from({ length: 10 }, (_, p) => ({ key: `p${p}`, value: `value-${(i + p) % 7}` })),
        tags: Array.from({ length: 5 }, (_, t) => ({ key: `tag${t}`, value: `t${t}` })),
      },
      inputs: { dataset_inputs: [] },
    };
  });
  return { runs, next_page_token: 'eyJ2IjoxfQ' };
}

async function main(): Promise<void> {
  const page = searchRunsPage(runsPerPage);
  const app = Fastify();
  app.get('/plain', () => Promise.resolve(page));
  app.get('/schema', { schema: { response: { 200: searchRunsResponse } } }, () => Promise.resolve(page));
  await app.ready();

  const plain = await app.inject('/plain');
  const schema = await app.inject('/schema');
  // Same content; the key order differs (the schema's order).
  if (!isDeepStrictEqual(plain.json(), schema.json())) throw new Error('the two routes answer different JSON');

  const time = async (url: string): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await app.inject(url);
    return Number(process.hrtime.bigint() - started) / 1e6 / iterations;
  };
  // Warm both paths up before measuring; then alternate so neither gets a warmer JIT.
  await time('/plain');
  await time('/schema');
  const results = { plain: [] as number[], schema: [] as number[] };
  for (let round = 0; round < 3; round++) {
    results.plain.push(await time('/plain'));
    results.schema.push(await time('/schema'));
  }
  const best = (xs: number[]): number => Math.min(...xs);
  const bytes = plain.rawPayload.length;
  console.log(`search_runs page of ${runsPerPage} runs (${(bytes / 1024).toFixed(0)} KiB), best of 3 × ${iterations} requests:`);
  console.log(`  JSON.stringify (no response schema)   ${best(results.plain).toFixed(2)} ms/request`);
  console.log(`  fast-json-stringify (response schema) ${best(results.schema).toFixed(2)} ms/request`);
  console.log(`  schema / plain                        ${(best(results.schema) / best(results.plain)).toFixed(2)}×`);
  await app.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
