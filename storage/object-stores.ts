import type { S3Client } from '@aws-sdk/client-s3';
import { FileStore } from './file-store';
import { type ObjectStore, UnsupportedUriError } from './object-store';
import { createS3Client, S3Store } from './s3-store';

/**
 * One ObjectStore for file:// and s3:// URIs alike (a stage may read file:// inputs into an s3://
 * root); the S3 client is created on the first s3:// URI, so file-only setups never need one.
 */
export function createObjectStore(deps: { s3Client?: () => S3Client } = {}): ObjectStore {
  const file = new FileStore();
  let s3Store: S3Store | undefined;
  const storeFor = (uri: string): ObjectStore => {
    if (uri.startsWith('file://')) return file;
    if (uri.startsWith('s3://')) return (s3Store ??= new S3Store(deps.s3Client?.() ?? createS3Client()));
    throw new UnsupportedUriError(uri);
  };
  // Every method is async, so an unsupported scheme is a rejection like any other storage failure.
  return {
    upload: async (localPath, uri) => storeFor(uri).upload(localPath, uri),
    download: async (uri, localPath) => storeFor(uri).download(uri, localPath),
    exists: async (uri) => storeFor(uri).exists(uri),
    listCurrent: async function* (uri, opts) {
      yield* storeFor(uri).listCurrent(uri, opts);
    },
    downloadVersion: async (uri, versionId, localPath) => storeFor(uri).downloadVersion(uri, versionId, localPath),
    keepsVersions: async (uri) => storeFor(uri).keepsVersions(uri),
    presignRead: async (uri, opts) => storeFor(uri).presignRead(uri, opts),
  };
}
