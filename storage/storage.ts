import type { S3Client } from '@aws-sdk/client-s3';
import type { ArtifactRepository } from './artifact-repository';
import { FileArtifactRepository } from './file-artifacts';
import { type ObjectStore, UnsupportedUriError } from './object-store';
import { createObjectStore } from './object-stores';
import { S3ArtifactRepository } from './s3-artifacts';
import { createS3Client, S3Store } from './s3-store';

/** Every storage scheme mlfleet knows, picked per URI: `file://` on this machine, `s3://` over one client. */
export interface Storage {
  /** One ObjectStore for file:// and s3:// URIs alike. */
  objects: ObjectStore;
  /** The artifact tree under `rootUri`. */
  artifactsAt: (rootUri: string) => ArtifactRepository;
}

/** The S3 client is created on first use (from the AWS environment unless given), so file-only setups never need one. */
export function createStorage(deps: { s3Client?: S3Client } = {}): Storage {
  let client = deps.s3Client;
  const s3 = (): S3Client => (client ??= createS3Client());
  return {
    objects: createObjectStore({ s3Store: () => new S3Store(s3()) }),
    artifactsAt: (rootUri) => {
      if (rootUri.startsWith('file://')) return new FileArtifactRepository(rootUri);
      if (rootUri.startsWith('s3://')) return new S3ArtifactRepository(s3(), rootUri);
      throw new UnsupportedUriError(rootUri);
    },
  };
}
