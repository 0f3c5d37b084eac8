import { resolve } from 'node:path';
import { type AuthConfig, Permission } from '../domain/auth';
import { fileUriOf } from '../storage/file-store';
import { type CloudsConfig, loadCloudsConfig } from './cloud-config';

/** The task queue mlfleet's workers poll and launches start on, unless MLFLEET_TASK_QUEUE says otherwise. */
export const TASK_QUEUE = 'mlfleet';

export interface MlfleetConfig {
  /** Local state: embedded PostgreSQL, the Temporal dev server's SQLite file, artifacts, stage work folders. */
  dataDir: string;
  apiPort: number;
  databaseUrl?: string;
  temporalAddress?: string;
  namespace: string;
  taskQueue: string;
  artifactRoot: string;
  /** The URL stages (and the CLI) reach the API at. */
  publicUrl: string;
  /** Ports of the embedded services, used only when DATABASE_URL / TEMPORAL_ADDRESS are unset. */
  postgresPort: number;
  temporalPort: number;
  temporalUiPort: number;
  /** Clouds stages are placed on (MLFLEET_CLOUDS_CONFIG); absent, every stage runs locally. */
  clouds?: CloudsConfig;
  /** Access control of the API (MLFLEET_AUTH, MLFLEET_AUTH_DEFAULT_PERMISSION). */
  auth: AuthConfig;
}

/** Configuration from the environment, with flags taking precedence; embedded defaults otherwise. */
export function loadConfig(overrides: { dataDir?: string; port?: number } = {}, env: NodeJS.ProcessEnv = process.env): MlfleetConfig {
  const dataDir = resolve(overrides.dataDir ?? env.MLFLEET_DATA_DIR ?? '.mlfleet');
  const apiPort = overrides.port ?? parsePort(env.MLFLEET_PORT, 5000);
  const artifactRoot = env.MLFLEET_ARTIFACT_ROOT ?? fileUriOf(resolve(dataDir, 'artifacts'));
  checkArtifactRoot(artifactRoot);
  const clouds = loadCloudsConfig(env);
  return {
    dataDir,
    apiPort,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.TEMPORAL_ADDRESS ? { temporalAddress: env.TEMPORAL_ADDRESS } : {}),
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.MLFLEET_TASK_QUEUE ?? TASK_QUEUE,
    artifactRoot,
    publicUrl: env.MLFLEET_PUBLIC_URL ?? `http://127.0.0.1:${apiPort}`,
    postgresPort: parsePort(env.MLFLEET_POSTGRES_PORT, 54329),
    temporalPort: parsePort(env.MLFLEET_TEMPORAL_PORT, 7233),
    temporalUiPort: parsePort(env.MLFLEET_TEMPORAL_UI_PORT, 8233),
    ...(clouds ? { clouds } : {}),
    auth: loadAuthConfig(env),
  };
}

/**
 * Auth is off unless MLFLEET_AUTH=on. The default permission is NO_PERMISSIONS (MLflow's is READ):
 * a team's experiments stay its own until it grants more.
 */
function loadAuthConfig(env: NodeJS.ProcessEnv): AuthConfig {
  const flag = (env.MLFLEET_AUTH ?? 'off').toLowerCase();
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(flag)) throw new Error(`MLFLEET_AUTH='${env.MLFLEET_AUTH ?? ''}': expected on or off`);
  const permission = Permission.safeParse(env.MLFLEET_AUTH_DEFAULT_PERMISSION ?? 'NO_PERMISSIONS');
  if (!permission.success) {
    throw new Error(`MLFLEET_AUTH_DEFAULT_PERMISSION='${env.MLFLEET_AUTH_DEFAULT_PERMISSION ?? ''}': expected one of ${Permission.options.join(', ')}`);
  }
  return { enabled: ['on', 'true', '1'].includes(flag), defaultPermission: permission.data };
}

// S3's bucket naming rules (3-63 lowercase letters, digits, '.', '-'), then an optional key prefix.
const S3_ROOT = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^/?#]+)*\/?$/;

/** An absolute file:/// folder or `s3://bucket[/prefix]`; anything else is refused with the expected shapes. */
function checkArtifactRoot(root: string): void {
  const segments = root.split('/').slice(3); // after `file://` or `s3://bucket`
  if ((root.startsWith('file:///') || S3_ROOT.test(root)) && !segments.includes('..') && !segments.includes('.')) return;
  throw new Error(`MLFLEET_ARTIFACT_ROOT='${root}': expected file:///absolute/folder or s3://bucket[/prefix] (a valid bucket name; no '.' or '..' segments)`);
}

function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port '${text}': expected 1-65535`);
  return port;
}
