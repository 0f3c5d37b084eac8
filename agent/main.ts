import { AgentJob } from '../domain/agent-job';
import { credentialsFromEnv } from '../storage/aws-credentials';
import { createObjectStore } from '../storage/object-stores';
import { deferredCa } from './extra-ca-certs';
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
  const store = createObjectStore({
    // Imported on the first s3:// URI only: loading the S3 SDK is a large share of an agent's start.
    s3Store: async () => {
      const { S3Store, createS3Client } = await import('../storage/s3-store');
      const ca = await deferredCa(process.env);
      return new S3Store(createS3Client({ ...(credentials ? { credentials } : {}), ...(ca ? { ca } : {}) }));
    },
  });
  const status = await runJob(jobDir, job, store);
  process.exitCode = status.exit_code === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
