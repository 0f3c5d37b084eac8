// docker-compose.yml is checked through `docker compose config`, which parses, validates and
// interpolates the file offline (no Docker engine needed). Without a compose-capable docker the
// tests are skipped on a workstation, and fail with a clear message under CI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const repoRoot = resolve(__dirname, '../..');
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

interface ComposeService {
  image?: string;
  build?: unknown;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  ports?: { target: number; published?: string }[];
  healthcheck?: { test?: string[] };
  volumes?: { target: string }[];
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
}

/** `docker compose` (the CLI plugin), else a standalone `docker-compose` v2; or why neither works. */
function findCompose(): { argv: string[] } | { missing: string } {
  const docker = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (docker.error && (docker.error as NodeJS.ErrnoException).code === 'ENOENT') {
    const standalone = findStandalone();
    return standalone ?? { missing: 'the `docker` binary is not on PATH' };
  }
  if (docker.status === 0) return { argv: ['docker', 'compose'] };
  return findStandalone() ?? { missing: `\`docker compose\` is not available (the Compose v2 CLI plugin is missing): ${docker.stderr.trim().split('\n')[0] ?? ''}` };
}

function findStandalone(): { argv: string[] } | undefined {
  // scripts/setup.mjs builds the plugin into .tools/bin where docker lacks it.
  const built = resolve(repoRoot, '.tools', 'bin', 'docker-compose');
  const binary = existsSync(built) ? built : 'docker-compose';
  const r = spawnSync(binary, ['version', '--short'], { encoding: 'utf8' });
  // Compose v1 has no `config --format json`.
  return r.status === 0 && !/^1\./.test(r.stdout.trim()) ? { argv: [binary] } : undefined;
}

const compose = findCompose();
const available = 'argv' in compose;
// Chosen at load time: skipped where Docker Compose is missing, except under CI, where it must run.
const maybe = available || inCI ? test : test.skip;

function composeConfig(env: NodeJS.ProcessEnv = {}): ComposeConfig {
  if (!('argv' in compose)) {
    throw new Error(`docker-compose.yml cannot be checked: ${compose.missing}. Install Docker's CLI with the Compose v2 plugin on the CI machine.`);
  }
  const [cmd, ...args] = compose.argv as [string, ...string[]];
  const r = spawnSync(cmd, [...args, '-f', 'docker-compose.yml', 'config', '--format', 'json'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`docker compose config failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ComposeConfig;
}

let cached: ComposeConfig | undefined;
const config = (): ComposeConfig => (cached ??= composeConfig());
const service = (name: string): ComposeService => {
  const s = config().services[name];
  if (!s) throw new Error(`service ${name} is missing`);
  return s;
};

describe('docker-compose.yml', () => {
  maybe('declares exactly the production-shaped stack', () => {
    expect(Object.keys(config().services).sort()).toEqual(
      ['api', 'minio', 'minio-init', 'temporal', 'temporal-db', 'temporal-ui', 'tracking-db', 'worker'].sort(),
    );
    for (const [name, s] of Object.entries(config().services)) {
      if (s.image) expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/:[^:]+$/) as string });
      if (s.image) expect(s.image).not.toMatch(/:latest$/);
    }
  });

  maybe('api and worker run the mlfleet image with the tracking DB, Temporal and S3 wired in', () => {
    for (const name of ['api', 'worker']) {
      const s = service(name);
      expect(s.build).toBeDefined();
      expect([...(s.entrypoint ?? []), ...(s.command ?? [])]).toEqual(['node', 'bin/mlfleet.cjs', name]);
      expect(s.environment).toMatchObject({
        DATABASE_URL: expect.stringMatching(/^postgres:\/\/mlfleet:[^@]+@tracking-db:5432\/mlfleet$/) as string,
        TEMPORAL_ADDRESS: 'temporal:7233',
        MLFLEET_ARTIFACT_ROOT: 'file:///var/lib/mlfleet/artifacts',
        AWS_ENDPOINT_URL_S3: expect.any(String) as string,
        AWS_ACCESS_KEY_ID: expect.any(String) as string,
        AWS_SECRET_ACCESS_KEY: expect.any(String) as string,
      });
      expect(s.depends_on).toMatchObject({
        'tracking-db': { condition: 'service_healthy' },
        temporal: { condition: 'service_healthy' },
        'minio-init': { condition: 'service_completed_successfully' },
      });
    }
    expect(service('api').ports).toEqual([expect.objectContaining({ target: 5000, published: '5000' })]);
  });

  maybe('temporal waits for a healthy temporal-db; the UI points at it', () => {
    expect(service('temporal').depends_on).toMatchObject({ 'temporal-db': { condition: 'service_healthy' } });
    expect(service('temporal').environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'temporal-db' });
    expect(service('temporal-db').healthcheck?.test?.join(' ')).toContain('pg_isready');
    expect(service('tracking-db').healthcheck?.test?.join(' ')).toContain('pg_isready');
    expect(service('temporal-ui').environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(service('temporal-ui').ports).toEqual([expect.objectContaining({ target: 8080, published: '8233' })]);
  });

  maybe('minio-init creates the artifact bucket with versioning', () => {
    const script = [...(service('minio-init').entrypoint ?? []), ...(service('minio-init').command ?? [])].join(' ');
    expect(script).toContain('mc mb --ignore-existing local/mlfleet-artifacts');
    expect(script).toContain('mc version enable local/mlfleet-artifacts');
    expect(service('minio-init').depends_on).toMatchObject({ minio: { condition: 'service_healthy' } });
  });

  maybe('secrets come from the environment', () => {
    const c = composeConfig({ TRACKING_DB_PASSWORD: 'tr4ck', TEMPORAL_DB_PASSWORD: 't3mp', MINIO_ROOT_PASSWORD: 'm1n10-secret', AWS_SECRET_ACCESS_KEY: '' });
    expect(c.services.api?.environment?.DATABASE_URL).toBe('postgres://mlfleet:tr4ck@tracking-db:5432/mlfleet');
    expect(c.services['tracking-db']?.environment?.POSTGRES_PASSWORD).toBe('tr4ck');
    expect(c.services['temporal-db']?.environment?.POSTGRES_PASSWORD).toBe('t3mp');
    expect(c.services.temporal?.environment?.POSTGRES_PWD).toBe('t3mp');
    expect(c.services.minio?.environment?.MINIO_ROOT_PASSWORD).toBe('m1n10-secret');
    // Without its own S3 credentials the worker uses MinIO's root user.
    expect(c.services.worker?.environment?.AWS_SECRET_ACCESS_KEY).toBe('m1n10-secret');
  });
});
