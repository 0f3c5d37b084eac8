// The churn example runs its four stages as plain Node scripts, in order, the way the agent runs them
// (each stage in its own working directory, relative output paths), with and without a tracking server.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const exampleDir = resolve(__dirname, '../../examples/churn');

interface ModelScores {
  accuracy: number;
  auc: number;
  logloss: number;
}
interface Report {
  best: string;
  models: { logreg: ModelScores; tree: ModelScores };
}
interface LogBatch {
  run_id: string;
  metrics: { key: string; value: number; timestamp: number; step: number }[];
  params: { key: string; value: string }[];
  tags: { key: string; value: string }[];
}

/** The environment without any MLflow variables, so the scripts print instead of logging. */
function envWithoutMlflow(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_')));
}

function runScript(cwd: string, script: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(exampleDir, script), ...args], { cwd, env: envWithoutMlflow(), encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('examples/churn', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mlfleet-churn-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  test('the four stages run in order and the better model is picked', () => {
    const dir = (stage: string) => join(tmp, stage);
    const dataset = join(dir('prepare'), 'out/dataset.json');
    const logreg = join(dir('train_logreg'), 'out/model.json');
    const tree = join(dir('train_tree'), 'out/model.json');
    const stages: [string, string, string[]][] = [
      ['prepare', 'prepare.js', ['--rows', '3000', '--seed', '7', '--out', 'out/dataset.json']],
      ['train_logreg', 'train-logreg.js', ['--data', dataset, '--epochs', '300', '--lr', '0.5', '--out', 'out/model.json']],
      ['train_tree', 'train-tree.js', ['--data', dataset, '--max-depth', '4', '--out', 'out/model.json']],
      ['evaluate', 'evaluate.js', ['--data', dataset, '--logreg', logreg, '--tree', tree, '--out', 'out/report.json']],
    ];
    let lastStdout = '';
    for (const [stage, script, args] of stages) {
      mkdirSync(dir(stage), { recursive: true });
      const r = runScript(dir(stage), script, args);
      expect({ stage, status: r.status, stderr: r.stderr }).toEqual({ stage, status: 0, stderr: '' });
      lastStdout = r.stdout;
    }
    const evaluateOut = { stdout: lastStdout };
    expect(evaluateOut.stdout).toMatch(/\[mlflow\] tag best_model=(logreg|tree)/);
    expect(evaluateOut.stdout).toMatch(/evaluate: best=(logreg|tree) test_auc=/);

    const report = JSON.parse(readFileSync(join(dir('evaluate'), 'out/report.json'), 'utf8')) as Report;
    expect(['logreg', 'tree']).toContain(report.best);
    for (const name of ['logreg', 'tree'] as const) {
      expect(report.models[name].auc).toBeGreaterThan(0.6);
      expect(report.models[name].auc).toBeLessThanOrEqual(1);
    }
    expect(report.models.logreg.auc).toBeGreaterThan(0.7);
    const bestAuc = Math.max(report.models.logreg.auc, report.models.tree.auc);
    expect(report.models[report.best as 'logreg' | 'tree'].auc).toBe(bestAuc);
  });

  test('the data set is a pure function of rows and seed', () => {
    const digest = (out: string) => {
      const r = runScript(tmp, 'prepare.js', ['--rows', '200', '--seed', '3', '--out', out]);
      expect(r.status).toBe(0);
      return createHash('sha256').update(readFileSync(join(tmp, out))).digest('hex');
    };
    expect(digest('a/d.json')).toBe(digest('b/d.json'));
  });

  test('a missing required argument prints the usage and exits with code 2', () => {
    const r = runScript(tmp, 'train-logreg.js', ['--data', 'x.json', '--epochs', '10', '--out', 'm.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('missing required argument --lr');
    expect(r.stderr).toContain('usage: node train-logreg.js');
    const bad = runScript(tmp, 'prepare.js', ['--rows', 'many', '--seed', '1', '--out', 'd.json']);
    expect(bad.status).toBe(2);
  });

  describe('with a tracking server', () => {
    let server: ReturnType<typeof createServer>;
    let uri: string;
    const bodies: LogBatch[] = [];
    let answers: number[] = [];

    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        let text = '';
        req.on('data', (chunk: Buffer) => (text += chunk.toString()));
        req.on('end', () => {
          const status = answers.shift() ?? 200;
          if (req.url === '/api/2.0/mlflow/runs/log-batch' && status === 200) bodies.push(JSON.parse(text) as LogBatch);
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(status === 200 ? '{}' : JSON.stringify({ error_code: status === 400 ? 'INVALID_PARAMETER_VALUE' : 'INTERNAL_ERROR', message: `answer ${status}` }));
        });
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
    });

    // Asynchronous, so this process's server can answer while the script runs.
    const runPrepare = () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        const env = { ...envWithoutMlflow(), MLFLOW_TRACKING_URI: `${uri}/`, MLFLOW_RUN_ID: 'run-123' };
        execFile(process.execPath, [join(exampleDir, 'prepare.js'), '--rows', '100', '--seed', '1', '--out', 'out/d.json'], { cwd: tmp, env }, (err, stdout, stderr) =>
          done({ code: err ? Number(err.code) : 0, stdout, stderr }),
        );
      });

    test('params and metrics go to log-batch, with retries on 5xx and 429', async () => {
      bodies.length = 0;
      answers = [503, 429];
      const r = await runPrepare();
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('[mlflow]');
      const params = bodies.flatMap((b) => b.params);
      const metrics = bodies.flatMap((b) => b.metrics);
      expect(bodies.every((b) => b.run_id === 'run-123')).toBe(true);
      expect(params).toEqual(expect.arrayContaining([{ key: 'rows', value: '100' }, { key: 'seed', value: '1' }, { key: 'n_train', value: '80' }, { key: 'n_test', value: '20' }]));
      expect(metrics).toHaveLength(1);
      expect(metrics[0]).toMatchObject({ key: 'churn_rate', step: 0 });
      expect(typeof metrics[0]!.value).toBe('number');
      expect(metrics[0]!.timestamp).toBeGreaterThan(Date.now() - 60_000);
    });

    test('a 4xx answer fails the script with the response body', async () => {
      answers = [400];
      const r = await runPrepare();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('HTTP 400');
      expect(r.stderr).toContain('INVALID_PARAMETER_VALUE');
    });
  });
});
