'use strict';
// Stage `evaluate`: scores both trained models on the held-out test split, picks the better one by
// test AUC (log-loss breaks a tie) and writes {best, metric, n_test, models:{logreg:{…}, tree:{…}}}.
const { parseArgs } = require('./lib/args');
const { scoreAll, round } = require('./lib/metrics');
const { readJson, readDataset, writeJson } = require('./lib/io');
const { predictAll, checkFeatures } = require('./lib/models');
const mlflow = require('./lib/mlflow');

async function main() {
  const args = parseArgs('evaluate.js', {
    data: { type: 'string', required: true, help: 'data set JSON written by prepare.js' },
    logreg: { type: 'string', required: true, help: 'model JSON written by train-logreg.js' },
    tree: { type: 'string', required: true, help: 'model JSON written by train-tree.js' },
    out: { type: 'string', required: true, help: 'where to write the report JSON' },
  });

  const data = readDataset(args.data);
  const { x, y } = data.test;
  const models = {};
  for (const [name, file] of [
    ['logreg', args.logreg],
    ['tree', args.tree],
  ]) {
    const model = readJson(file, `${name} model`);
    if (model.type !== name) throw new Error(`--${name} ${file} holds a model of type '${model.type}', not '${name}'`);
    checkFeatures(model, data, `${name} model`);
    models[name] = scoreAll(y, predictAll(model, x));
  }

  const [best] = Object.keys(models).sort(
    (a, b) => models[b].auc - models[a].auc || models[a].logloss - models[b].logloss,
  );
  const report = { best, metric: 'test_auc', n_test: y.length, models };
  writeJson(args.out, report);

  await mlflow.logMetrics({
    logreg_test_auc: models.logreg.auc,
    logreg_test_accuracy: models.logreg.accuracy,
    logreg_test_logloss: models.logreg.logloss,
    tree_test_auc: models.tree.auc,
    tree_test_accuracy: models.tree.accuracy,
    tree_test_logloss: models.tree.logloss,
    best_test_auc: models[best].auc,
  });
  await mlflow.setTags({ best_model: best });

  const fmt = (m) => `auc ${m.auc.toFixed(3)} acc ${m.accuracy.toFixed(3)} logloss ${m.logloss.toFixed(3)}`;
  console.log(
    `evaluate: best=${best} test_auc=${round(models[best].auc, 4)} on ${y.length} rows | logreg ${fmt(models.logreg)} | tree ${fmt(models.tree)}`,
  );
}

main().catch((err) => {
  console.error(`evaluate: ${err.message}`);
  process.exit(1);
});
