'use strict';
// Stage `train_tree`: a CART classification tree (Gini impurity, binary splits on thresholds) grown
// to --max-depth. Leaves hold a Laplace-smoothed churn probability, so AUC and log-loss are defined.
// Writes {type:'tree', features, max_depth, root}.
const { parseArgs } = require('./lib/args');
const { accuracy, auc, round } = require('./lib/metrics');
const { readDataset, writeJson } = require('./lib/io');
const { predictAll } = require('./lib/models');
const mlflow = require('./lib/mlflow');

const gini = (pos, n) => (n === 0 ? 0 : 1 - (pos / n) ** 2 - ((n - pos) / n) ** 2);

function leaf(pos, n) {
  return { leaf: true, prob: round((pos + 1) / (n + 2)), n, churned: pos };
}

/** The split of `idx` that lowers the weighted Gini impurity most, or null if none does. */
function bestSplit(xs, ys, idx, minLeaf) {
  const n = idx.length;
  const pos = idx.reduce((s, i) => s + ys[i], 0);
  const parent = gini(pos, n);
  let best = null;
  const d = xs[idx[0]].length;
  for (let f = 0; f < d; f++) {
    const sorted = idx.slice().sort((a, b) => xs[a][f] - xs[b][f]);
    let leftPos = 0;
    for (let k = 0; k < n - 1; k++) {
      leftPos += ys[sorted[k]];
      const here = xs[sorted[k]][f];
      const next = xs[sorted[k + 1]][f];
      if (here === next) continue; // a threshold must fall between two distinct values
      const nl = k + 1;
      const nr = n - nl;
      if (nl < minLeaf || nr < minLeaf) continue;
      const impurity = (nl / n) * gini(leftPos, nl) + (nr / n) * gini(pos - leftPos, nr);
      const gain = parent - impurity;
      if (gain > 1e-12 && (best === null || gain > best.gain)) {
        best = { feature: f, threshold: (here + next) / 2, gain };
      }
    }
  }
  return best;
}

function grow(xs, ys, idx, depth, opts, names) {
  const n = idx.length;
  const pos = idx.reduce((s, i) => s + ys[i], 0);
  if (depth >= opts.maxDepth || pos === 0 || pos === n || n < 2 * opts.minLeaf) return leaf(pos, n);
  const split = bestSplit(xs, ys, idx, opts.minLeaf);
  if (!split) return leaf(pos, n);
  const left = idx.filter((i) => xs[i][split.feature] <= split.threshold);
  const right = idx.filter((i) => xs[i][split.feature] > split.threshold);
  return {
    feature: split.feature,
    name: names[split.feature],
    threshold: round(split.threshold),
    gain: round(split.gain),
    n,
    left: grow(xs, ys, left, depth + 1, opts, names),
    right: grow(xs, ys, right, depth + 1, opts, names),
  };
}

const countLeaves = (node) => (node.leaf ? 1 : countLeaves(node.left) + countLeaves(node.right));
const depthOf = (node) => (node.leaf ? 0 : 1 + Math.max(depthOf(node.left), depthOf(node.right)));

/** Total Gini gain per feature, weighted by node size: a rough importance. */
function importances(node, out, total) {
  if (node.leaf) return out;
  out[node.name] = (out[node.name] || 0) + (node.gain * node.n) / total;
  importances(node.left, out, total);
  importances(node.right, out, total);
  return out;
}

async function main() {
  const args = parseArgs('train-tree.js', {
    data: { type: 'string', required: true, help: 'data set JSON written by prepare.js' },
    'max-depth': { type: 'int', required: true, min: 0, help: 'deepest level of the tree (root = 0)' },
    'min-samples-leaf': { type: 'int', default: 10, min: 1, help: 'fewest training rows in a leaf' },
    out: { type: 'string', required: true, help: 'where to write the model JSON' },
  });
  const opts = { maxDepth: args['max-depth'], minLeaf: args['min-samples-leaf'] };

  const started = Date.now();
  const data = readDataset(args.data);
  const { x, y } = data.train;
  console.log(`train-tree: ${x.length} training rows, ${data.features.length} features`);
  await mlflow.logParams({ max_depth: opts.maxDepth, min_samples_leaf: opts.minLeaf, criterion: 'gini' });

  const root = grow(
    x,
    y,
    x.map((_, i) => i),
    0,
    opts,
    data.features,
  );
  const model = { type: 'tree', features: data.features, max_depth: opts.maxDepth, root };
  const pTrain = predictAll(model, x);
  const pTest = predictAll(model, data.test.x);
  const final = {
    train_accuracy: round(accuracy(y, pTrain)),
    test_accuracy: round(accuracy(data.test.y, pTest)),
    test_auc: round(auc(data.test.y, pTest)),
    n_leaves: countLeaves(root),
    depth: depthOf(root),
  };
  writeJson(args.out, model);
  const imp = Object.entries(importances(root, {}, x.length)).sort((a, b) => b[1] - a[1]);
  console.log(`train-tree: ${final.n_leaves} leaves, depth ${final.depth}; splits on ${imp.map(([f, v]) => `${f} (${v.toFixed(3)})`).join(', ')}`);
  console.log(
    `train-tree: test accuracy ${final.test_accuracy.toFixed(3)}, test AUC ${final.test_auc.toFixed(3)}; wrote ${args.out} in ${Date.now() - started} ms`,
  );
  await mlflow.logMetrics(final);
}

main().catch((err) => {
  console.error(`train-tree: ${err.message}`);
  process.exit(1);
});
