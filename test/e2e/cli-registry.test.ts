import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LaunchProgress } from '../../domain/launch';
import { packCodeBundle } from '../../storage/code-bundle';
import { FileStore, fileUriOf } from '../../storage/file-store';
import { uniqueId } from '../helpers/launches';
import { runMlfleet } from '../helpers/processes';
import { createWorkflowTestContext, type WorkflowTestContext } from '../helpers/temporal';

// The `mlfleet` command against an API that shares no folder with it but the artifact root the
// worker uses: the code reaches the stages only through the upload.
let ctx: WorkflowTestContext;
let url: string;
const taskQueue = uniqueId('cli-registry');

beforeAll(async () => {
  ctx = await createWorkflowTestContext();
  await ctx.runWorker(taskQueue);
  url = await ctx.startApi(taskQueue);
});

afterAll(async () => {
  await ctx.close();
});

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();

async function mlfleet(...args: string[]): Promise<{ code: number | null; output: string }> {
  const run = runMlfleet([...args, ...(args.includes('--url') ? [] : ['--url', url])]);
  const code = await run.exited;
  return { code, output: run.output() };
}

function pipelineFolder(experiment: string): string {
  const dir = join(ctx.dataDir, uniqueId('pipeline'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'greet.sh'), 'echo "hello from $1"\n', { mode: 0o755 });
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    [`experiment: ${experiment}`, 'stages:', '  greet:', '    command: ./greet.sh ${params.who} > ${outputs.msg}', '    outputs: { msg: msg.txt }', '    params: { who: bundle }', ''].join('\n'),
  );
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'pipeline');
  return dir;
}

const tagsOf = async (runId: string): Promise<Record<string, string>> => {
  const { rows } = await ctx.pool.query<{ key: string; value: string }>('SELECT key, value FROM tags WHERE run_uuid = $1', [runId]);
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
};

test('launch FILE uploads the folder: the stage runs from the bundle, and the run has its digest and git facts', async () => {
  const dir = pipelineFolder(uniqueId('cli-upload'));
  const { code, output } = await mlfleet('launch', join(dir, 'pipeline.yaml'), '--wait', '--json', '-p', 'greet.who=cli');
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('"status":"FINISHED"') as string });
  const launch = LaunchProgress.parse(JSON.parse(output.trim().split('\n').pop()!));
  const tags = await tagsOf(launch.run_id);
  const direct = await packCodeBundle(dir, fileUriOf(join(ctx.dataDir, uniqueId('direct'))), new FileStore());
  expect(tags).toMatchObject({
    'mlfleet.code_digest': direct.digest,
    'mlflow.source.git.commit': git(dir, 'rev-parse', 'HEAD'),
    'mlflow.source.git.branch': 'main',
    'mlfleet.git_dirty': 'false',
    'mlfleet.trigger': 'cli',
  });
});

// Many CLI processes one after another: on a loaded 2-core machine it has run close to the 120 s default.
test('pipeline register / list, and the launch argument rules', async () => {
  const name = uniqueId('cli-reg');
  const dir = pipelineFolder(name);
  const file = join(dir, 'pipeline.yaml');
  expect(await mlfleet('pipeline', 'register', file)).toEqual({ code: 0, output: `${name}@1\n` });
  expect(await mlfleet('pipeline', 'register', file)).toEqual({ code: 0, output: `${name}@1\n` });
  writeFileSync(join(dir, 'greet.sh'), 'echo "hi from $1"\n', { mode: 0o755 }); // other code: another version
  expect(await mlfleet('pipeline', 'register', file)).toEqual({ code: 0, output: `${name}@2\n` });
  const json = await mlfleet('pipeline', 'register', file, '--name', `${name}.copy`, '--json');
  expect(JSON.parse(json.output)).toMatchObject({ name: `${name}.copy`, version: 1 });

  const list = await mlfleet('pipeline', 'list', name);
  expect(list.code).toBe(0);
  const lines = list.output.trim().split('\n');
  expect(lines[0]).toMatch(/^PIPELINE +DIGEST +CODE +CREATED$/);
  expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual([`${name}@2`, `${name}@1`]);
  const all = JSON.parse((await mlfleet('pipeline', 'list', '--json')).output) as { name: string; version: number }[];
  expect(all.filter((p) => p.name === name)).toEqual([expect.objectContaining({ name, version: 2 })]);

  expect(await mlfleet('launch')).toEqual({ code: 2, output: 'mlfleet launch: give either a pipeline FILE or --pipeline NAME@VERSION (exactly one)\n' });
  expect((await mlfleet('launch', file, '--pipeline', `${name}@1`)).code).toBe(2);
  expect(await mlfleet('launch', '--pipeline', 'no version')).toEqual({
    code: 2,
    output: "mlfleet launch: --pipeline 'no version': expected <pipeline name>@<version number>, e.g. churn@3\n",
  });
  expect(await mlfleet('launch', '--pipeline', `${name}@9`)).toEqual({ code: 1, output: `mlfleet: Pipeline version '${name}@9' not found\n` });
  expect(await mlfleet('launch', '--pipeline', `${name}@1`, '-p', 'greet.whom=x')).toEqual({
    code: 2,
    output: "invalid pipeline:\n  params.greet.whom: stage 'greet' has no param 'whom'\n",
  });
}, 240_000);

test('launch --pipeline NAME@VERSION runs the registered spec with its registered code', async () => {
  const name = uniqueId('cli-run');
  const dir = pipelineFolder(name);
  expect((await mlfleet('pipeline', 'register', join(dir, 'pipeline.yaml'))).output).toBe(`${name}@1\n`);
  const { code, output } = await mlfleet('launch', '--pipeline', `${name}@1`, '--wait', '--json');
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('"status":"FINISHED"') as string });
  const launch = LaunchProgress.parse(JSON.parse(output.trim().split('\n').pop()!));
  expect(await tagsOf(launch.run_id)).toMatchObject({ 'mlflow.source.git.commit': git(dir, 'rev-parse', 'HEAD') });
});
