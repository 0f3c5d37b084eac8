import type { S3Client } from '@aws-sdk/client-s3';
import type { ArtifactRepository } from './artifact-repository';
import { FileArtifactRepository } from './file-artifacts';
import { FileStore } from './file-store';
import { type ObjectStore, UnsupportedUriError } from './object-store';
import { S3ArtifactRepository } from './s3-artifacts';
import { createS3Client, S3Store } from './s3-store';

/** Every storage scheme mlfleet knows, picked per URI: `file://` on this machine, `s3://` over one client. */
export interface Storage {
  /** One ObjectStore for file:// and s3:// URIs alike (a stage may read file:// inputs into an s3:// root). */
  objects: ObjectStore;
  /** The artifact tree under `rootUri`. */
  artifactsAt: (rootUri: string) => ArtifactRepository;
}

/** The S3 client is created on first use (from the AWS environment unless given), so file-only setups never need one. */
export function createStorage(deps: { s3Client?: S3Client } = {}): Storage {
  let client = deps.s3Client;
  const s3 = (): S3Client => (client ??= createS3Client());
  const file = new FileStore();
  let s3Store: S3Store | undefined;
  const storeFor = (uri: string): ObjectStore => {
    if (uri.startsWith('file://')) return file;
    if (uri.startsWith('s3://')) return (s3Store ??= new S3Store(s3()));
    throw new UnsupportedUriError(uri);
  };
  return {
    objects: {
      // async, so an unsupported scheme is a rejection like any other storage failure
      upload: async (localPath, uri) => storeFor(uri).upload(localPath, uri),
      download: async (uri, localPath) => storeFor(uri).download(uri, localPath),
      exists: async (uri) => storeFor(uri).exists(uri),
      listCurrent: (uri) => storeFor(uri).listCurrent(uri),
      downloadVersion: async (uri, versionId, localPath) => storeFor(uri).downloadVersion(uri, versionId, localPath),
      keepsVersions: async (uri) => storeFor(uri).keepsVersions(uri),
    },
    artifactsAt: (rootUri) => {
      if (rootUri.startsWith('file://')) return new FileArtifactRepository(rootUri);
      if (rootUri.startsWith('s3://')) return new S3ArtifactRepository(s3(), rootUri);
      throw new UnsupportedUriError(rootUri);
    },
  };
}
