import { createReadStream, createWriteStream } from 'node:fs';
import { Agent } from 'node:https';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AwsCredentials } from './aws-credentials';
import { type ObjectStore, type StoredObject, UnsupportedUriError } from './object-store';
import { isForbidden, isNotFound } from './s3-errors';

// Presigned reads last an hour unless asked otherwise; S3 caps them at seven days.
const PRESIGN_DEFAULT_SECONDS = 3600;
const PRESIGN_MAX_SECONDS = 7 * 24 * 3600;

export interface S3Location {
  bucket: string;
  /** The object key or key prefix, without a leading '/' ('' for the whole bucket). */
  key: string;
}

/** `s3://bucket/key…`; the key is percent-decoded, as file:// paths are. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)\/?([^?#]*)$/.exec(uri);
  if (!match) throw new UnsupportedUriError(uri);
  const [, bucket = '', key = ''] = match;
  return { bucket, key: decodeURIComponent(key) };
}

/**
 * An S3 client configured the standard AWS way (credentials, region, and AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL, which the SDK reads itself). An explicit endpoint means an S3-compatible server
 * (MinIO, moto) that serves buckets by path rather than by host name, and rarely cares for regions.
 * Given `credentials`, the client uses those and nothing of the SDK's credential chain.
 */
export function createS3Client(opts: { credentials?: AwsCredentials; ca?: string[] } = {}): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const base = {
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // The certificate authorities to trust, when the caller's differ from the process's (agent/extra-ca-certs.ts).
    ...(opts.ca ? { requestHandler: { httpsAgent: new Agent({ ca: opts.ca, keepAlive: true }) } } : {}),
  };
  if (!endpoint) return new S3Client(base);
  return new S3Client({ endpoint, forcePathStyle: true, ...(process.env.AWS_REGION ? {} : { region: 'us-east-1' }), ...base });
}

/** The key of every object under `prefix` (all levels), page by page. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** True when some object's key starts with `prefix`. */
export async function hasObjectsUnder(client: S3Client, bucket: string, prefix: string): Promise<boolean> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
  return (page.KeyCount ?? 0) > 0;
}

/** Uploads one local file; its size is known, so the SDK can sign it and resend it on a retry. */
export async function putFile(client: S3Client, bucket: string, key: string, localPath: string): Promise<void> {
  const { size } = await stat(localPath);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(localPath), ContentLength: size }));
}

async function getFile(client: S3Client, bucket: string, key: string, localPath: string, versionId?: string): Promise<void> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  await mkdir(dirname(localPath), { recursive: true });
  await pipeline(object.Body as Readable, createWriteStream(localPath));
}

/** `s3://bucket/key` URIs. A folder is the objects under `key/`, as MLflow's S3 repository keeps them. */
export class S3Store implements ObjectStore {
  constructor(private readonly client: S3Client) {}

  async upload(localPath: string, uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    const base = key.replace(/\/+$/, '');
    if (!(await stat(localPath)).isDirectory()) return putFile(this.client, bucket, base, localPath);
    for (const relative of await readdir(localPath, { recursive: true })) {
      const path = join(localPath, relative);
      if ((await stat(path)).isFile()) await putFile(this.client, bucket, `${base}/${relative.split(sep).join('/')}`, path);
    }
  }

  async download(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    const base = key.replace(/\/+$/, '');
    let denied: Error | undefined;
    try {
      return await getFile(this.client, bucket, base, localPath);
    } catch (err) {
      if (isForbidden(err)) denied = err as Error;
      else if (!isNotFound(err)) throw err;
    }
    let found = false;
    try {
      for await (const objectKey of listObjects(this.client, bucket, `${base}/`)) {
        const relative = objectKey.slice(base.length + 1);
        if (relative === '' || relative.endsWith('/')) continue; // folder markers some tools write
        // A key is any string: one with '..' must not write outside localPath.
        if (relative.split('/').includes('..')) throw new Error(`refusing to download ${objectKey}: '..' in the key`);
        await getFile(this.client, bucket, objectKey, join(localPath, ...relative.split('/')));
        found = true;
      }
    } catch (err) {
      // Not allowed to list there either: the first refusal says more.
      throw denied !== undefined && isForbidden(err) && !found ? denied : err;
    }
    if (!found) throw denied ?? new Error(`nothing stored at ${uri}`);
  }

  async exists(uri: string): Promise<boolean> {
    const { bucket, key } = parseS3Uri(uri);
    const base = key.replace(/\/+$/, '');
    let denied: Error | undefined;
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: base }));
      return true;
    } catch (err) {
      if (isForbidden(err)) denied = err as Error;
      else if (!isNotFound(err)) throw err;
    }
    const under = await hasObjectsUnder(this.client, bucket, `${base}/`).catch((err: unknown) => {
      throw denied !== undefined && isForbidden(err) ? denied : err;
    });
    // Denied and nothing under it: missing or not ours to read, which the caller cannot tell apart either.
    if (!under && denied) throw denied;
    return under;
  }

  /** The object `uri` names, else every object under `uri/`; with versioning, each at its latest version (deleted ones left out). */
  async *listCurrent(uri: string, opts: { versions: boolean }): AsyncGenerator<StoredObject[]> {
    const { bucket, key } = parseS3Uri(uri);
    const versioned = opts.versions;
    if (key !== '' && !key.endsWith('/')) {
      try {
        const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        yield [{ path: '', size: head.ContentLength ?? 0, ...stored(versioned ? head.VersionId : undefined, head.ETag) }];
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const relative = (objectKey: string): string => objectKey.slice(prefix.length);
    if (!versioned) {
      let token: string | undefined;
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        const objects = (page.Contents ?? []).filter((o) => o.Key !== undefined && !o.Key.endsWith('/'));
        yield objects.map((o) => ({ path: relative(o.Key as string), size: o.Size ?? 0, ...stored(undefined, o.ETag) }));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return;
    }
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
      );
      // Delete markers are not Versions, so a deleted object has no latest version here.
      const latest = (page.Versions ?? []).filter((v) => v.IsLatest && v.Key !== undefined && !v.Key.endsWith('/'));
      yield latest.map((v) => ({ path: relative(v.Key as string), size: v.Size ?? 0, ...stored(v.VersionId, v.ETag) }));
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }

  async downloadVersion(uri: string, versionId: string, localPath: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await getFile(this.client, bucket, key, localPath, versionId);
  }

  async presignRead(uri: string, opts: { versionId?: string; expiresInSeconds?: number } = {}): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const expiresIn = Math.min(PRESIGN_MAX_SECONDS, Math.max(1, Math.floor(opts.expiresInSeconds ?? PRESIGN_DEFAULT_SECONDS)));
    const command = new GetObjectCommand({ Bucket: bucket, Key: key, ...(opts.versionId ? { VersionId: opts.versionId } : {}) });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  async keepsVersions(uri: string): Promise<boolean> {
    const { bucket } = parseS3Uri(uri);
    const { Status } = await this.client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return Status === 'Enabled';
  }
}

const stored = (versionId: string | undefined, etag: string | undefined): Pick<StoredObject, 'versionId' | 'etag'> => ({
  ...(versionId && versionId !== 'null' ? { versionId } : {}),
  ...(etag ? { etag: etag.replace(/"/g, '') } : {}),
});
