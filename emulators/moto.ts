import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../server/free-port';

const MOTO_SERVER = join(__dirname, '..', '.tools', 'bin', 'moto_server');

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** moto (EC2 and S3 on one port, in memory) from the project's tool venv, on a free 127.0.0.1 port, until stop(). */
export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.on('error', (err) => (output += `${err.message}\n`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server (${MOTO_SERVER}; run \`npm run setup\` to install it) did not start on ${endpoint}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
