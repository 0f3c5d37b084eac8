'use strict';
// Logs params, metrics and tags to the MLflow run of this stage over plain REST (no client library).
// The stage agent sets MLFLOW_TRACKING_URI and MLFLOW_RUN_ID; without them (a script run by hand)
// everything is printed to stdout instead, e.g. `[mlflow] metric test_auc=0.81`.
// Credentials, when given, follow the MLflow client: MLFLOW_TRACKING_TOKEN (bearer) or
// MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (basic).

const MAX_RETRIES = 3; // on a network error, a time-out, 429 or 5xx
const BASE_BACKOFF_MS = 250;
const REQUEST_TIMEOUT_MS = 15_000;
// log-batch limits of the MLflow REST API.
const LIMITS = { metrics: 1000, params: 100, tags: 100 };

function target() {
  const uri = process.env.MLFLOW_TRACKING_URI;
  const runId = process.env.MLFLOW_RUN_ID;
  if (!uri || !runId || !/^https?:\/\//i.test(uri)) return null;
  return { url: `${uri.replace(/\/+$/, '')}/api/2.0/mlflow/runs/log-batch`, runId };
}

function headers() {
  const h = { 'content-type': 'application/json' };
  const { MLFLOW_TRACKING_TOKEN: token, MLFLOW_TRACKING_USERNAME: user, MLFLOW_TRACKING_PASSWORD: password } = process.env;
  if (token) h.authorization = `Bearer ${token}`;
  else if (user && password) h.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return h;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds to wait before attempt `attempt + 1`; honours a numeric Retry-After (capped). */
function backoff(attempt, response) {
  const retryAfter = response && Number(response.headers.get('retry-after'));
  if (retryAfter > 0) return Math.min(retryAfter * 1000, 10_000);
  return BASE_BACKOFF_MS * 2 ** attempt;
}

async function post(t, body) {
  const payload = JSON.stringify({ run_id: t.runId, ...body });
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(t.url, {
        method: 'POST',
        headers: headers(),
        body: payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      if (attempt < MAX_RETRIES) {
        await sleep(backoff(attempt));
        continue;
      }
      const cause = err && err.cause ? ` (${err.cause.code || err.cause.message})` : '';
      throw new Error(`MLflow log-batch to ${t.url} failed after ${attempt + 1} attempts: ${err.message}${cause}`, {
        cause: err,
      });
    }
    if (response.ok) {
      await response.arrayBuffer(); // drain, so the connection can be reused
      return;
    }
    const retriable = response.status === 429 || response.status >= 500;
    if (retriable && attempt < MAX_RETRIES) {
      await response.arrayBuffer().catch(() => {});
      await sleep(backoff(attempt, response));
      continue;
    }
    const text = await response.text().catch(() => '');
    throw new Error(`MLflow log-batch to ${t.url} answered HTTP ${response.status} after ${attempt + 1} attempt(s): ${text}`);
  }
}

/** Sends one log-batch per chunk that fits the API limits. */
async function logBatch({ metrics = [], params = [], tags = [] }) {
  const t = target();
  if (!t) {
    for (const p of params) console.log(`[mlflow] param ${p.key}=${p.value}`);
    for (const m of metrics) console.log(`[mlflow] metric ${m.key}=${m.value}${m.step ? ` step=${m.step}` : ''}`);
    for (const g of tags) console.log(`[mlflow] tag ${g.key}=${g.value}`);
    return;
  }
  let [mi, pi, ti] = [0, 0, 0];
  while (mi < metrics.length || pi < params.length || ti < tags.length) {
    const body = {
      metrics: metrics.slice(mi, mi + LIMITS.metrics),
      params: params.slice(pi, pi + LIMITS.params),
      tags: tags.slice(ti, ti + LIMITS.tags),
    };
    mi += body.metrics.length;
    pi += body.params.length;
    ti += body.tags.length;
    await post(t, body);
  }
}

async function logParams(obj) {
  const params = Object.entries(obj).map(([key, value]) => ({ key, value: String(value) }));
  await logBatch({ params });
}

/** Each value must be a finite number; `step` defaults to 0 as in MLflow. */
async function logMetrics(obj, step = 0) {
  const timestamp = Date.now();
  const metrics = Object.entries(obj).map(([key, value]) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError(`metric ${key} must be a finite number, got ${value}`);
    }
    return { key, value, timestamp, step: Math.trunc(step) };
  });
  await logBatch({ metrics });
}

async function setTags(obj) {
  const tags = Object.entries(obj).map(([key, value]) => ({ key, value: String(value) }));
  await logBatch({ tags });
}

/** True when logging goes to a tracking server rather than stdout. */
function isRemote() {
  return target() !== null;
}

module.exports = { logParams, logMetrics, setTags, logBatch, isRemote };
