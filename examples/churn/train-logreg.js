'use strict';
// Stage `train_logreg`: logistic regression fitted by full-batch gradient descent with an L2 penalty.
// Writes {type:'logreg', features, weights, bias}.
const { parseArgs } = require('./lib/args');
const { sigmoid, accuracy, auc, round } = require('./lib/metrics');
const { readDataset, writeJson } = require('./lib/io');
const { predictAll } = require('./lib/models');
const mlflow = require('./lib/mlflow');

const LOG_EVERY = 10; // epochs between train_loss points

/** Mean cross-entropy plus the L2 term, and its gradient, in one pass over the data. */
function lossAndGradient(xs, ys, w, b, l2) {
  const n = xs.length;
  const d = w.length;
  const gw = new Array(d).fill(0);
  let gb = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    let z = b;
    for (let j = 0; j < d; j++) z += w[j] * x[j];
    const p = sigmoid(z);
    // log(1 + e^z) - y z, computed stably
    loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - ys[i] * z;
    const err = p - ys[i];
    for (let j = 0; j < d; j++) gw[j] += err * x[j];
    gb += err;
  }
  let norm = 0;
  for (let j = 0; j < d; j++) {
    gw[j] = gw[j] / n + l2 * w[j];
    norm += w[j] * w[j];
  }
  return { loss: loss / n + (l2 / 2) * norm, gw, gb: gb / n };
}

async function main() {
  const args = parseArgs('train-logreg.js', {
    data: { type: 'string', required: true, help: 'data set JSON written by prepare.js' },
    epochs: { type: 'int', required: true, min: 1, help: 'gradient-descent epochs (full passes)' },
    lr: { type: 'number', required: true, positive: true, help: 'learning rate' },
    l2: { type: 'number', default: 0.001, min: 0, help: 'L2 penalty on the weights' },
    out: { type: 'string', required: true, help: 'where to write the model JSON' },
  });

  const started = Date.now();
  const data = readDataset(args.data);
  const { x, y } = data.train;
  console.log(`train-logreg: ${x.length} training rows, ${data.features.length} features`);
  await mlflow.logParams({ epochs: args.epochs, lr: args.lr, l2: args.l2 });

  let w = new Array(data.features.length).fill(0);
  let b = 0;
  for (let epoch = 1; epoch <= args.epochs; epoch++) {
    const { loss, gw, gb } = lossAndGradient(x, y, w, b, args.l2);
    if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch}: try a smaller --lr`);
    // The loss is that of the weights before this epoch's step; log it every LOG_EVERY epochs.
    if (epoch === 1 || epoch % LOG_EVERY === 0 || epoch === args.epochs) {
      if (epoch % 100 === 0 || epoch === 1) console.log(`train-logreg: epoch ${epoch} loss ${loss.toFixed(4)}`);
      if (epoch % LOG_EVERY === 0) await mlflow.logMetrics({ train_loss: round(loss) }, epoch);
    }
    w = w.map((wj, j) => wj - args.lr * gw[j]);
    b -= args.lr * gb;
  }

  const model = { type: 'logreg', features: data.features, weights: w.map((v) => round(v)), bias: round(b) };
  const pTrain = predictAll(model, x);
  const pTest = predictAll(model, data.test.x);
  const final = {
    train_accuracy: round(accuracy(y, pTrain)),
    test_accuracy: round(accuracy(data.test.y, pTest)),
    test_auc: round(auc(data.test.y, pTest)),
  };
  writeJson(args.out, model);
  console.log(`train-logreg: weights ${data.features.map((f, j) => `${f}=${model.weights[j].toFixed(3)}`).join(' ')} bias=${model.bias.toFixed(3)}`);
  console.log(
    `train-logreg: test accuracy ${final.test_accuracy.toFixed(3)}, test AUC ${final.test_auc.toFixed(3)}; wrote ${args.out} in ${Date.now() - started} ms`,
  );
  await mlflow.logMetrics(final, args.epochs);
}

main().catch((err) => {
  console.error(`train-logreg: ${err.message}`);
  process.exit(1);
});
