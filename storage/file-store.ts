import { cp, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ObjectStore, type StoredObject, UnsupportedUriError } from './object-store';

// Files listed per page by listCurrent: the same paging as an S3 listing.
const PAGE_SIZE = 1000;

/** `file://` URIs on this machine: the embedded default for artifacts and stage outputs. */
export class FileStore implements ObjectStore {
  async upload(localPath: string, uri: string): Promise<void> {
    const target = filePathOf(uri);
    await mkdir(dirname(target), { recursive: true });
    await cp(localPath, target, { recursive: true, force: true });
  }

  async download(uri: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await cp(filePathOf(uri), localPath, { recursive: true, force: true });
  }

  async exists(uri: string): Promise<boolean> {
    return stat(filePathOf(uri)).then(
      () => true,
      () => false,
    );
  }

  async *listCurrent(uri: string): AsyncGenerator<StoredObject[]> {
    const root = filePathOf(uri);
    const info = await stat(root);
    if (info.isFile()) {
      yield [{ path: '', size: info.size }];
      return;
    }
    let page: StoredObject[] = [];
    // Sorted walk, so a listing (and the digest of what it pins) does not depend on the file system's order.
    const walk = async function* (dir: string, prefix: string): AsyncGenerator<StoredObject> {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) yield* walk(join(dir, entry.name), path);
        else if (entry.isFile()) yield { path, size: (await stat(join(dir, entry.name))).size };
      }
    };
    for await (const object of walk(root, '')) {
      page.push(object);
      if (page.length === PAGE_SIZE) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  downloadVersion(uri: string): Promise<void> {
    return Promise.reject(new Error(`${uri}: a local file has no versions; pin it into the content-addressed store instead`));
  }

  keepsVersions(): Promise<boolean> {
    return Promise.resolve(false);
  }

  async presignRead(uri: string): Promise<string> {
    await stat(filePathOf(uri));
    return uri;
  }
}

export function filePathOf(uri: string): string {
  if (!uri.startsWith('file://')) throw new UnsupportedUriError(uri);
  return fileURLToPath(uri);
}

export function fileUriOf(path: string): string {
  return pathToFileURL(resolve(path)).href;
}
