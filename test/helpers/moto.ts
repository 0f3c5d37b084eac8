import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startMotoServer } from '../../emulators/moto';

export interface Moto {
  endpoint: string;
  /** The AWS environment that points S3 clients (the SDK, boto3, MLflow's) at this server. */
  env: Record<string, string>;
  /** A client for this server. */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** moto's S3 (from the tool venv) on a free 127.0.0.1 port, in memory, until stop(). */
export async function startMoto(): Promise<Moto> {
  const server = await startMotoServer();
  const { endpoint } = server;
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    MLFLOW_S3_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
  const client = (): S3Client =>
    new S3Client({ endpoint, forcePathStyle: true, region: env.AWS_REGION, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  return {
    endpoint,
    env,
    client,
    async createBucket(name) {
      const s3 = client();
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      s3.destroy();
    },
    stop: () => server.stop(),
  };
}
