import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyError, FastifyPluginCallback } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { CodeBundleDigest, CodeBundleInfo, CodeBundleUploaded, CodeBundleUploadQuery } from '../../domain/pipeline-registry';
import {
  CodeBundleError,
  CodeBundleTooLargeError,
  extractUploadedArchive,
  MAX_BUNDLE_BYTES,
  packCodeBundle,
} from '../../storage/code-bundle';
import type { ObjectStore } from '../../storage/object-store';
import { type CodeBundleRecord, getCodeBundle, recordCodeBundle } from '../../store/code-bundles';
import { MlflowError } from '../mlflow/errors';
import { SIGNED_IN } from '../auth/access-rule';
import { v1Route } from './route';

export interface CodeBundleRoutesDeps {
  pool: pg.Pool;
  artifactRoot: string;
  store: ObjectStore;
}

const DigestParams = z.object({ digest: CodeBundleDigest }).strict();

/** The content types a code archive may be sent as (the CLI sends application/gzip). */
const ARCHIVE_CONTENT_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

const tooLarge = (detail: string): MlflowError =>
  new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `${detail}; code bundles are limited to ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB (keep data out of the pipeline folder, or .gitignore it, and declare it as an input)`,
    413,
  );

export const codeBundleInfo = (record: CodeBundleRecord): CodeBundleInfo => ({
  digest: record.digest,
  files: record.files,
  bytes: record.bytes,
  uri: record.uri,
  ...(record.gitCommit !== undefined ? { git_commit: record.gitCommit } : {}),
  ...(record.gitBranch !== undefined ? { git_branch: record.gitBranch } : {}),
  ...(record.gitDirty !== undefined ? { git_dirty: record.gitDirty } : {}),
  created_at: record.createdAt,
});

/**
 * `POST /api/v1/code-bundles` (a gzip tar of a code folder, checked entry by entry, unpacked and
 * packed again by the server so the digest is its own) and `GET /api/v1/code-bundles/:digest`.
 */
export const codeBundleRoutes: FastifyPluginCallback<CodeBundleRoutesDeps> = (app, deps, done) => {
  // Scoped to this plugin: the rest of the API keeps JSON only, and its 16 MiB body limit.
  app.addContentTypeParser(ARCHIVE_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: MAX_BUNDLE_BYTES }, (_request, body, done) => done(null, body));
  // Fastify's own 413 would become a 400 in the app-wide handler; anything else goes on to it.
  app.setErrorHandler((error: FastifyError) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw tooLarge('the archive is larger than the limit');
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `Content-Type must be one of ${ARCHIVE_CONTENT_TYPES.join(', ')} for a code archive`);
    }
    throw error;
  });

  v1Route<undefined, CodeBundleUploadQuery, undefined>(
    app,
    {
      method: 'POST',
      access: SIGNED_IN,
      path: '/api/v1/code-bundles',
      summary: 'Upload a code folder as a gzip tar archive (Content-Type: application/gzip); 200 instead of 201 when that content was uploaded before',
      query: CodeBundleUploadQuery,
      headers: { 'content-type': 'application/gzip (or application/octet-stream)' },
      status: 201,
      response: CodeBundleUploaded,
      errors: [413],
    },
    async ({ query, request, reply }) => {
      const body: unknown = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'body: expected a gzip tar archive of the code folder (Content-Type: application/gzip)');
      }
      const scratch = await mkdtemp(join(tmpdir(), 'mlfleet-upload-'));
      try {
        const archive = join(scratch, 'upload.tar.gz');
        const codeDir = join(scratch, 'code');
        await writeFile(archive, body);
        try {
          await extractUploadedArchive(archive, codeDir);
        } catch (err) {
          if (err instanceof CodeBundleTooLargeError) throw tooLarge(err.message);
          if (err instanceof CodeBundleError) throw new MlflowError('INVALID_PARAMETER_VALUE', `body: ${err.message}`);
          throw err;
        }
        // Never git: the folder came from outside, and its git facts are the client's (query).
        const bundle = await packCodeBundle(codeDir, deps.artifactRoot, deps.store, { useGit: false });
        const createdAt = Date.now();
        const record = await recordCodeBundle(deps.pool, {
          digest: bundle.digest,
          uri: bundle.uri,
          bytes: bundle.bytes,
          files: bundle.files.length,
          ...(query.git_commit !== undefined ? { gitCommit: query.git_commit } : {}),
          ...(query.git_branch !== undefined ? { gitBranch: query.git_branch } : {}),
          ...(query.git_dirty !== undefined ? { gitDirty: query.git_dirty === 'true' } : {}),
          createdAt,
        });
        const answer: CodeBundleUploaded = { digest: record.digest, files: record.files, bytes: record.bytes };
        // The first upload of this content recorded it just now; a later one finds it.
        return record.createdAt === createdAt ? answer : reply.status(200).send(answer);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  );

  v1Route<undefined, undefined, { digest: string }>(
    app,
    {
      method: 'GET',
      access: SIGNED_IN,
      path: '/api/v1/code-bundles/:digest',
      summary: 'An uploaded code bundle: size, file count, where it is stored, and the git facts of its first upload',
      params: DigestParams,
      response: CodeBundleInfo,
      errors: [404],
    },
    async ({ params }) => {
      const record = await getCodeBundle(deps.pool, params.digest);
      if (!record) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Code bundle '${params.digest}' not found`);
      return codeBundleInfo(record);
    },
  );
  done();
};
