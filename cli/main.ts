import { Command, InvalidArgumentError, Option } from 'commander';
import { SpecError } from '../domain/pipeline-spec';
import { adminCommand, grantCommand, grantsCommand, teamCommand, tokenCommand, userCommand } from './access';
import { renderAttempts } from './render-attempts';
import { ApiRequestError, MlfleetApi } from './api-client';
import { DEMO_CLOUD_MODES, demoCommand, type DemoOptions } from './demo';
import { emulatorsCommand } from './emulators';
import { launchCommand, type LaunchOptions } from './launch';
import { scheduleCommand } from './schedule';
import { pipelineCommand } from './pipeline';
import { planCommand } from './plan';
import { launchJson, renderRunTree } from './render';
import { runApiProcess, runWorkerProcess } from '../server/standalone';
import { upCommand } from './up';

const DEFAULT_URL = process.env.MLFLEET_URL ?? 'http://127.0.0.1:5000';

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port number (1-65535)');
  return n;
};
const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command('mlfleet')
  .description('ML pipelines as Temporal workflows on the cheapest spot VM, tracked in an MLflow-compatible store')
  .showHelpAfterError();

program
  .command('up')
  .description('run PostgreSQL, the Temporal dev server, a worker and the API in the foreground (Ctrl-C stops)')
  .option('--port <n>', 'API port', port)
  .option('--data-dir <dir>', 'local state folder (default .mlfleet, or MLFLEET_DATA_DIR)')
  .action((opts: { port?: number; dataDir?: string }) => upCommand(opts));

program
  .command('launch [file]')
  .description('launch a pipeline (YAML or JSON), or a registered version with --pipeline')
  .option('--pipeline <name@version>', 'launch a registered pipeline version instead of a file')
  .option('-p, --param <stage.key=value>', 'override a stage param (repeatable)', collect, [])
  .option('-w, --wait', 'follow stage progress until the launch ends; exit non-zero unless it FINISHED', false)
  .option('--json', 'print the launch as JSON', false)
  .option('--no-cache', 'run every stage, taking no memoized result (new results are still recorded)')
  .option('--refresh <stage>', 'run this stage even if a memoized result exists (repeatable)', collect, [])
  .option('--from <stage>', 're-execute from this stage (with --reuse): it and its descendants run')
  .option('--reuse <launch-id>', "the earlier launch whose outputs of the stages upstream of --from are taken")
  .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', DEFAULT_URL)
  .action(async (file: string | undefined, opts: LaunchOptions) => {
    process.exitCode = await launchCommand(file, opts);
  });

program
  .command('status <launch-id>')
  .description('show a launch and its stages')
  .option('--json', 'print as JSON', false)
  .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', DEFAULT_URL)
  .action(async (launchId: string, opts: { json: boolean; url: string }) => {
    const api = new MlfleetApi(opts.url);
    const [progress, attempts] = await Promise.all([api.getLaunch(launchId), api.getAttempts(launchId)]);
    if (opts.json) {
      console.log(JSON.stringify({ ...launchJson(progress), attempts: attempts.attempts }));
      return;
    }
    console.log(renderRunTree(progress, { digests: true }));
    const placements = renderAttempts(attempts);
    if (placements) console.log(`\nplacement attempts:\n${placements}`);
  });

program
  .command('cancel <launch-id>')
  .description('cancel a launch: its stages stop and their runs end KILLED')
  .option('--url <url>', 'mlfleet API (or MLFLEET_URL)', DEFAULT_URL)
  .action(async (launchId: string, opts: { url: string }) => {
    const progress = await new MlfleetApi(opts.url).cancelLaunch(launchId);
    console.log(`cancellation requested for ${progress.launch_id} (now ${progress.status})`);
  });

program
  .command('demo')
  .description('start the embedded stack, run examples/churn, print the run tree, stop')
  .option('--port <n>', 'API port', port)
  .option('--data-dir <dir>', 'local state folder (default .mlfleet)')
  .option('--keep', 'keep the stack running afterwards', false)
  .addOption(
    new Option('--clouds <mode>', 'local: stages run on this machine; simulated: placed on the simulated AWS, GCP and Azure, with one preemption')
      .choices(DEMO_CLOUD_MODES)
      .default('local'),
  )
  .action(async (opts: DemoOptions) => {
    process.exitCode = await demoCommand(opts);
  });

program
  .command('emulators')
  .description('run the simulated clouds (moto EC2 + S3 with fault injection, GCP Compute and Azure ARM fakes) until Ctrl-C')
  .option('--dir <dir>', 'their state and clouds config (default <data dir>/emulators)')
  .action((opts: { dir?: string }) => emulatorsCommand(opts));

program.addCommand(pipelineCommand(DEFAULT_URL));

program.addCommand(planCommand(DEFAULT_URL));

program
  .command('worker')
  .description('run a worker against DATABASE_URL and TEMPORAL_ADDRESS (production)')
  .action(() => runWorkerProcess());

program
  .command('api')
  .description('run the API against DATABASE_URL and TEMPORAL_ADDRESS (production)')
  .option('--port <n>', 'port (default 5000, or MLFLEET_PORT)', port)
  .option('--host <host>', 'interface to listen on (or MLFLEET_HOST)', process.env.MLFLEET_HOST ?? '0.0.0.0')
  .action((opts: { port?: number; host: string }) => runApiProcess(opts));

program.addCommand(scheduleCommand(DEFAULT_URL));

program.addCommand(adminCommand());
program.addCommand(userCommand(DEFAULT_URL));
program.addCommand(teamCommand(DEFAULT_URL));
program.addCommand(tokenCommand(DEFAULT_URL));
program.addCommand(grantCommand(DEFAULT_URL));
program.addCommand(grantsCommand(DEFAULT_URL));

program.parseAsync().catch((err: unknown) => {
  if (err instanceof SpecError) {
    console.error(`invalid pipeline:\n${err.issues.map((i) => `  ${i}`).join('\n')}`);
    process.exit(2);
  }
  if (err instanceof ApiRequestError) {
    console.error(`mlfleet: ${err.message}`);
    process.exit(err.status === 400 ? 2 : 1);
  }
  console.error(`mlfleet: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
