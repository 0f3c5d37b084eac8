import { AgentJob } from '../domain/agent-job';
import { createObjectStore } from '../storage/object-stores';
import { createS3Client, credentialsFromEnv } from '../storage/s3-store';
import { readJob, runJob } from './run-job';

/** `node agent/main.ts JOB_DIR`: the stage bootstrap that a provider starts (locally or on a VM). */
async function main(): Promise<void> {
  const jobDir = process.argv[2];
  if (!jobDir) {
    console.error('usage: agent JOB_DIR');
    process.exit(2);
  }
  const job = AgentJob.parse(await readJob(jobDir));
  // Keys in the environment (a VM's stage credentials, from its boot script) are the only ones
  // used when given; otherwise the SDK's chain (an instance profile, or the worker's own setup).
  const credentials = credentialsFromEnv(process.env);
  const status = await runJob(jobDir, job, createObjectStore(credentials ? { s3Client: () => createS3Client({ credentials }) } : {}));
  process.exitCode = status.exit_code === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
