'use strict';
// Stage `prepare`: generates a synthetic customer-churn data set from a seed, splits it 80/20,
// standardises the features with the training split's mean and std, and writes one JSON file:
// {features, train:{x,y}, test:{x,y}, scaling:{mean,std}}.
const { parseArgs } = require('./lib/args');
const { createRandom } = require('./lib/random');
const { sigmoid, round } = require('./lib/metrics');
const { writeJson } = require('./lib/io');
const mlflow = require('./lib/mlflow');

const FEATURES = [
  'tenure_months',
  'monthly_charges',
  'support_calls',
  'contract_one_year', // contract one-hot; month-to-month is the baseline
  'contract_two_year',
  'has_autopay',
  'is_senior',
];

/** One customer: raw feature values and the churn label drawn from a noisy logistic ground truth. */
function customer(rng) {
  const tenure = 1 + Math.floor(71 * rng.uniform() ** 1.3); // 1..72 months, more new customers
  const c = rng.uniform();
  const monthToMonth = 0.65 - 0.45 * (tenure / 72); // long-standing customers hold longer contracts
  const contract = c < monthToMonth ? 0 : c < monthToMonth + 0.25 ? 1 : 2;
  const charges = round(rng.between(20, 120), 2);
  const calls = rng.poisson(1.2 + 0.012 * (charges - 20));
  const autopay = rng.bernoulli(contract === 0 ? 0.35 : 0.6);
  const senior = rng.bernoulli(0.16);

  // Mostly additive on the logit scale, with two kinks a tree can find: price matters much more on
  // month-to-month contracts, and a fourth support call is a breaking point.
  const z =
    -0.6 -
    0.045 * (tenure - 24) +
    0.028 * (charges - 70) * (contract === 0 ? 1.4 : 0.5) +
    0.3 * (calls - 1.8) +
    (calls >= 4 ? 0.9 : 0) -
    0.9 * (contract === 1 ? 1 : 0) -
    1.9 * (contract === 2 ? 1 : 0) -
    0.6 * autopay +
    0.45 * senior +
    rng.normal(0, 0.4);
  const label = rng.bernoulli(sigmoid(z));
  return { x: [tenure, charges, calls, contract === 1 ? 1 : 0, contract === 2 ? 1 : 0, autopay, senior], y: label };
}

function columnStats(rows) {
  const d = rows[0].length;
  const mean = new Array(d).fill(0);
  const std = new Array(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
  for (const r of rows) for (let j = 0; j < d; j++) std[j] += (r[j] - mean[j]) ** 2 / rows.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1; // a constant column stays as is
  return { mean: mean.map((v) => round(v)), std: std.map((v) => round(v)) };
}

function standardise(rows, { mean, std }) {
  return rows.map((r) => r.map((v, j) => round((v - mean[j]) / std[j])));
}

async function main() {
  const args = parseArgs('prepare.js', {
    rows: { type: 'int', required: true, min: 20, help: 'number of customers to generate (>= 20)' },
    seed: { type: 'int', required: true, help: 'PRNG seed; same rows and seed give the same file' },
    out: { type: 'string', required: true, help: 'where to write the data set JSON' },
  });

  const started = Date.now();
  const rng = createRandom(args.seed);
  const all = Array.from({ length: args.rows }, () => customer(rng));
  rng.shuffle(all);
  const nTrain = Math.round(all.length * 0.8);
  const train = all.slice(0, nTrain);
  const test = all.slice(nTrain);

  const scaling = columnStats(train.map((r) => r.x));
  const data = {
    features: FEATURES,
    train: { x: standardise(train.map((r) => r.x), scaling), y: train.map((r) => r.y) },
    test: { x: standardise(test.map((r) => r.x), scaling), y: test.map((r) => r.y) },
    scaling,
  };
  const churnRate = all.reduce((s, r) => s + r.y, 0) / all.length;
  const bytes = writeJson(args.out, data);

  console.log(`prepare: ${args.rows} customers (seed ${args.seed}), ${FEATURES.length} features`);
  console.log(`prepare: train ${train.length} / test ${test.length}, churn rate ${(churnRate * 100).toFixed(1)}%`);
  console.log(`prepare: wrote ${args.out} (${(bytes / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);

  await mlflow.logParams({ rows: args.rows, seed: args.seed, n_train: train.length, n_test: test.length });
  await mlflow.logMetrics({ churn_rate: round(churnRate) });
}

main().catch((err) => {
  console.error(`prepare: ${err.message}`);
  process.exit(1);
});
