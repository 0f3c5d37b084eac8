import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitSource, listCodeFiles, writeCodeArchive } from '../storage/code-bundle';
import type { MlfleetApi } from './api-client';

/**
 * Uploads the code folder `dir` to the API: the very files `packCodeBundle` would pack (git-tracked
 * plus untracked non-ignored files, or every file outside git), as a gzip tar, with the folder's git
 * facts. Returns the digest the server computed, for `{code: {bundle}}`.
 */
export async function uploadCode(api: MlfleetApi, dir: string): Promise<{ bundle: string }> {
  const [files, git] = await Promise.all([listCodeFiles(dir), gitSource(dir)]);
  const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-upload-'));
  try {
    const archive = join(scratch, 'code.tar.gz');
    await writeCodeArchive(dir, files, archive);
    const uploaded = await api.uploadCodeBundle(await readFile(archive), git);
    return { bundle: uploaded.digest };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
