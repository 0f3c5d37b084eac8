import type { CloudsConfig } from '../server/cloud-config';
import { loadConfig, type MlfleetConfig } from '../server/config';
import { type RunningStack, startStack } from '../server/stack';
import { untilSignal } from '../server/until-signal';

export interface UpOptions {
  port?: number;
  dataDir?: string;
  /** Clouds to place stages on instead of MLFLEET_CLOUDS_CONFIG's (the demo's simulated clouds). */
  clouds?: CloudsConfig;
}

// The environment less MLFLEET_CLOUDS_CONFIG: where its clouds are not wanted, a stale one must not fail the start.
const envWithoutClouds = (): NodeJS.ProcessEnv => ({ ...process.env, MLFLEET_CLOUDS_CONFIG: '' });

/** The configuration from the environment and flags; given clouds replace MLFLEET_CLOUDS_CONFIG's. */
function configOf(opts: UpOptions): MlfleetConfig {
  return opts.clouds ? { ...loadConfig(opts, envWithoutClouds()), clouds: opts.clouds } : loadConfig(opts);
}

/** The local state folder `bringUp` would use: `--data-dir`, MLFLEET_DATA_DIR or `.mlfleet`, absolute. */
export const dataDirOf = (opts: Pick<UpOptions, 'dataDir'>): string => loadConfig(opts, envWithoutClouds()).dataDir;

/** Starts the stack and prints where everything is. */
export async function bringUp(opts: UpOptions, log: (line: string) => void): Promise<RunningStack> {
  const config = configOf(opts);
  const stack = await startStack(config, (line) => log(`[mlfleet] ${line}`));
  log('');
  log('mlfleet is up');
  log(`  API and MLflow tracking  ${stack.apiUrl}   (export MLFLOW_TRACKING_URI=${stack.apiUrl})`);
  log(`  Temporal                 ${stack.temporalAddress}${stack.embedded.temporal ? '   (embedded dev server)' : ''}`);
  if (stack.temporalUiUrl) log(`  Temporal UI              ${stack.temporalUiUrl}`);
  log(`  PostgreSQL               ${stack.embedded.postgres ? `embedded, data in ${config.dataDir}/pg` : 'DATABASE_URL'}`);
  log(`  Artifacts                ${config.artifactRoot}`);
  log('  Authentication           off (embedded mode)');
  return stack;
}

/** `mlfleet up`: runs in the foreground until Ctrl-C, then stops everything in order. */
export async function upCommand(opts: UpOptions): Promise<void> {
  const stack = await bringUp(opts, (line) => console.log(line));
  console.log('Press Ctrl-C to stop.');
  await untilSignal();
  console.log('\n[mlfleet] stopping (Ctrl-C again to force) …');
  process.once('SIGINT', () => process.exit(130));
  await stack.stop();
  console.log('[mlfleet] stopped; unfinished launches resume on the next `mlfleet up`.');
}
