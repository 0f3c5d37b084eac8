'use strict';
// Classification metrics over labels y (0/1) and predicted probabilities p.

const EPS = 1e-15;

function sigmoid(z) {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function checkLengths(y, p) {
  if (y.length !== p.length) throw new Error(`labels (${y.length}) and predictions (${p.length}) differ in length`);
  if (y.length === 0) throw new Error('no examples to score');
}

/** Share of examples whose thresholded prediction equals the label. */
function accuracy(y, p, threshold = 0.5) {
  checkLengths(y, p);
  let right = 0;
  for (let i = 0; i < y.length; i++) if ((p[i] >= threshold ? 1 : 0) === y[i]) right++;
  return right / y.length;
}

/**
 * ROC AUC through the rank statistic (Mann-Whitney U): the probability that a random positive
 * scores above a random negative; tied scores get their average rank, so ties count one half.
 */
function auc(y, p) {
  checkLengths(y, p);
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  let positives = 0;
  let rankSumPositives = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && p[order[end + 1]] === p[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1; // ranks are 1-based
    for (let k = start; k <= end; k++) {
      if (y[order[k]] === 1) {
        positives++;
        rankSumPositives += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return NaN; // undefined with a single class
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, with probabilities clipped away from 0 and 1. */
function logloss(y, p) {
  checkLengths(y, p);
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - EPS, Math.max(EPS, p[i]));
    sum -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return sum / y.length;
}

/** All three at once, rounded for reports. */
function scoreAll(y, p) {
  return { accuracy: round(accuracy(y, p)), auc: round(auc(y, p)), logloss: round(logloss(y, p)) };
}

function round(x, digits = 6) {
  return Number.isFinite(x) ? Number(x.toFixed(digits)) : x;
}

module.exports = { sigmoid, accuracy, auc, logloss, scoreAll, round };
