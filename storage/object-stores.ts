import { FileStore } from './file-store';
import { type ObjectStore, UnsupportedUriError } from './object-store';

/**
 * One ObjectStore for file:// and s3:// URIs alike (a stage may read file:// inputs into an s3://
 * root). The S3 store is made by `s3Store` on the first s3:// URI: the stage agent imports the S3
 * SDK only then, so an agent whose data is all file:// starts without loading it.
 */
export function createObjectStore(deps: { s3Store: () => ObjectStore | Promise<ObjectStore> }): ObjectStore {
  const file = new FileStore();
  let s3: Promise<ObjectStore> | undefined;
  const storeFor = async (uri: string): Promise<ObjectStore> => {
    if (uri.startsWith('file://')) return file;
    if (uri.startsWith('s3://')) return (s3 ??= Promise.resolve().then(deps.s3Store));
    throw new UnsupportedUriError(uri);
  };
  // Every method is async, so an unsupported scheme is a rejection like any other storage failure.
  return {
    upload: async (localPath, uri) => (await storeFor(uri)).upload(localPath, uri),
    download: async (uri, localPath) => (await storeFor(uri)).download(uri, localPath),
    exists: async (uri) => (await storeFor(uri)).exists(uri),
    listCurrent: async function* (uri, opts) {
      yield* (await storeFor(uri)).listCurrent(uri, opts);
    },
    downloadVersion: async (uri, versionId, localPath) => (await storeFor(uri)).downloadVersion(uri, versionId, localPath),
    keepsVersions: async (uri) => (await storeFor(uri)).keepsVersions(uri),
    presignRead: async (uri, opts) => (await storeFor(uri)).presignRead(uri, opts),
  };
}
