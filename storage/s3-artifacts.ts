import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type ArtifactEntry, type ArtifactRepository, byName, normalizeArtifactPath } from './artifact-repository';
import { isNotFound } from './s3-errors';
import { hasObjectsUnder, listObjects, parseS3Uri, putFile } from './s3-store';

/** The artifact tree under an s3:// URI: folders are key prefixes ending in '/'. */
export class S3ArtifactRepository implements ArtifactRepository {
  private readonly bucket: string;
  private readonly rootKey: string;

  constructor(
    private readonly client: S3Client,
    rootUri: string,
  ) {
    const { bucket, key } = parseS3Uri(rootUri);
    this.bucket = bucket;
    this.rootKey = key.replace(/\/+$/, '');
  }

  /** ListObjectsV2 with Delimiter '/': one level, common prefixes being the folders. */
  async list(path: string): Promise<ArtifactEntry[]> {
    const key = this.keyOf(path);
    const prefix = key === '' ? '' : `${key}/`;
    const entries: ArtifactEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const folder of page.CommonPrefixes ?? []) {
        if (folder.Prefix !== undefined) entries.push({ name: folder.Prefix.slice(prefix.length, -1), isDir: true });
      }
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(prefix.length);
        if (name !== '') entries.push({ name, isDir: false, size: object.Size ?? 0 }); // '' is a folder marker
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries.sort(byName);
  }

  async read(path: string) {
    if (normalizeArtifactPath(path) === '') return { isDir: true } as const;
    const key = this.keyOf(path);
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { isDir: false, size: object.ContentLength ?? 0, body: object.Body as Readable } as const;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return (await hasObjectsUnder(this.client, this.bucket, `${key}/`)) ? ({ isDir: true } as const) : undefined;
  }

  /**
   * S3 wants the length before the first byte and a body it can send again on a retry, and a
   * streamed upload may have neither: spool it to a temp file first. S3 itself never shows a
   * partial object.
   */
  async write(path: string, body: Readable): Promise<void> {
    const key = this.keyOf(path);
    const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-s3-put-'));
    try {
      const file = join(scratch, 'body');
      await pipeline(body, createWriteStream(file));
      await putFile(this.client, this.bucket, key, file);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** The object `path` and everything under `path/`, with DeleteObjects (1000 keys a request). */
  async delete(path: string): Promise<void> {
    const key = this.keyOf(path);
    const keys = [key];
    for await (const objectKey of listObjects(this.client, this.bucket, `${key}/`)) keys.push(objectKey);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }));
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
    }
  }

  private keyOf(path: string): string {
    return [this.rootKey, normalizeArtifactPath(path)].filter(Boolean).join('/');
  }
}
