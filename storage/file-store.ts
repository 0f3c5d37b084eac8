import { cp, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ObjectStore, UnsupportedUriError } from './object-store';

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
}

export function filePathOf(uri: string): string {
  if (!uri.startsWith('file://')) throw new UnsupportedUriError(uri);
  return fileURLToPath(uri);
}

export function fileUriOf(path: string): string {
  return pathToFileURL(resolve(path)).href;
}
