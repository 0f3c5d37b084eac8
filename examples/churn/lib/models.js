'use strict';
// Scoring for the two model files the trainers write, shared by the trainers and evaluate.js
// (it lives in lib/ so each stage's declared `code:` paths cover everything it runs).
const { sigmoid } = require('./metrics');

/** {type:'logreg', weights, bias}: P(churn) = sigmoid(w·x + b). */
function predictLogreg(model, x) {
  let z = model.bias;
  for (let j = 0; j < model.weights.length; j++) z += model.weights[j] * x[j];
  return sigmoid(z);
}

/** {type:'tree', root}: walk to a leaf; internal nodes send x[feature] <= threshold left. */
function predictTree(model, x) {
  let node = model.root;
  while (!node.leaf) node = x[node.feature] <= node.threshold ? node.left : node.right;
  return node.prob;
}

function predictor(model) {
  if (model && model.type === 'logreg' && Array.isArray(model.weights)) return (x) => predictLogreg(model, x);
  if (model && model.type === 'tree' && model.root) return (x) => predictTree(model, x);
  throw new Error(`unknown model file: expected type 'logreg' or 'tree', got ${JSON.stringify(model && model.type)}`);
}

/** Probabilities for every row of xs. */
function predictAll(model, xs) {
  const f = predictor(model);
  return xs.map(f);
}

/** A model trained on other columns than the data set's would score garbage: refuse it. */
function checkFeatures(model, dataset, what) {
  if (Array.isArray(model.features) && model.features.join(',') !== dataset.features.join(',')) {
    throw new Error(`${what} was trained on features [${model.features}] but the data set has [${dataset.features}]`);
  }
}

module.exports = { predictLogreg, predictTree, predictor, predictAll, checkFeatures };
