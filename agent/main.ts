import { AgentJob } from '../domain/agent-job';
import { createObjectStore } from '../storage/object-stores';
import { readJob, runJob } from './run-job';

/** `node agent/main.ts JOB_DIR`: the stage bootstrap that a provider starts (locally or on a VM). */
async function main(): Promise<void> {
  const jobDir = process.argv[2];
  if (!jobDir) {
    console.error('usage: agent JOB_DIR');
    process.exit(2);
  }
  const job = AgentJob.parse(await readJob(jobDir));
  const status = await runJob(jobDir, job, createObjectStore());
  process.exitCode = status.exit_code === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
