import { parseS3Uri } from './s3-store';

/**
 * One place a stage may touch: `object` is exactly that key; `tree` is what an input URI names
 * (the object itself, or the folder of objects under `key/`); `prefix` is everything under `key/`.
 */
export interface StageScope {
  uri: string;
  kind: 'object' | 'tree' | 'prefix';
}

/** What a stage's credentials allow: read these, write those, nothing else. */
export interface StageAccess {
  read: StageScope[];
  write: StageScope[];
}

/** AWS's limit on the plaintext of an inline session policy (AssumeRole `Policy`). */
export const SESSION_POLICY_MAX_CHARS = 2048;

// AssumeRole's DurationSeconds range; a role's MaxSessionDuration (1 h unless raised) caps it too.
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 43_200;
// Past the stage's own time: booting, downloading the agent and inputs, uploading outputs and logs.
export const SESSION_MARGIN_SECONDS = 900;

const READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'];
// PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload; these two are the rest of a multipart upload.
const WRITE_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];

/** The stage's access could not be written as a session policy AWS accepts: no retry changes that. */
export class StagePolicyTooLargeError extends Error {
  override readonly name = 'StagePolicyTooLargeError';
}

interface Scope {
  bucket: string;
  /** Without leading or trailing '/'; '' is the whole bucket. */
  key: string;
  kind: StageScope['kind'];
  /** May list under `key/`: what tells a folder from a missing object. Objects, and folders collapsed from objects only, need not. */
  listed: boolean;
}

/**
 * The session policy for `access`, as compact JSON: GetObject/GetObjectVersion on the read scopes,
 * ListBucket on their buckets only for `s3:prefix` under them, PutObject and multipart upload on
 * the write scopes. When it exceeds AWS's 2048 characters, read scopes are collapsed to their
 * deepest shared folders (at '/' boundaries, the deepest level first and within it as few folders
 * as do, never to a whole bucket) until it fits; write scopes are never widened. Throws
 * StagePolicyTooLargeError when nothing more can be collapsed. `partition` is the ARN partition
 * (`aws`, `aws-cn`, `aws-us-gov`).
 */
export function stageSessionPolicy(access: StageAccess, opts: { partition?: string; maxChars?: number } = {}): string {
  const partition = opts.partition ?? 'aws';
  const maxChars = opts.maxChars ?? SESSION_POLICY_MAX_CHARS;
  let read = minimal(access.read.filter((s) => s.uri.startsWith('s3://')).map(scopeOf));
  // Writes are never listed: the agent only puts.
  const write = minimal(access.write.filter((s) => s.uri.startsWith('s3://')).map((s) => ({ ...scopeOf(s), listed: false })));
  for (;;) {
    const policy = render(read, write, partition);
    if (policy.length <= maxChars) return policy;
    const level = deepestSharedLevel(read);
    if (level === 0) {
      throw new StagePolicyTooLargeError(
        `the stage's storage access needs a ${policy.length}-character session policy even with its ${read.length} read scope(s) collapsed to shared folders ` +
          `(AWS allows ${maxChars}): it reads or writes in too many separate places (${[...new Set([...read, ...write].map((s) => s.bucket))].length} bucket(s))`,
      );
    }
    // Collapse the fewest (largest) folders of this level that make it fit; failing that, all of them, and go one level up.
    const groups = groupsAt(read, level);
    const all = mergeGroups(read, groups, level);
    if (render(all, write, partition).length > maxChars) {
      read = all;
      continue;
    }
    let [lo, hi] = [1, groups.length];
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (render(mergeGroups(read, groups.slice(0, mid), level), write, partition).length <= maxChars) hi = mid;
      else lo = mid + 1;
    }
    read = mergeGroups(read, groups.slice(0, lo), level);
  }
}

/** DurationSeconds for a stage's credentials: its timeout plus a margin, within AWS's range and the role's maximum; the maximum when the stage has no timeout. */
export function sessionSeconds(stageTimeoutSeconds: number | undefined, maxSeconds: number = MAX_SESSION_SECONDS): number {
  const ceiling = Math.max(MIN_SESSION_SECONDS, Math.min(MAX_SESSION_SECONDS, Math.floor(maxSeconds)));
  if (stageTimeoutSeconds === undefined) return ceiling;
  return Math.max(MIN_SESSION_SECONDS, Math.min(ceiling, Math.ceil(stageTimeoutSeconds) + SESSION_MARGIN_SECONDS));
}

function scopeOf(scope: StageScope): Scope {
  const { bucket, key } = parseS3Uri(scope.uri);
  const trimmed = key.replace(/^\/+|\/+$/g, '');
  // A URI naming a folder (`…/raw/`) is the same tree as `…/raw`; the whole bucket is a prefix.
  const kind = trimmed === '' ? 'prefix' : scope.kind;
  return { bucket, key: trimmed, kind, listed: kind !== 'object' };
}

/** True when everything `b` allows, `a` allows too. */
function covers(a: Scope, b: Scope): boolean {
  if (a.bucket !== b.bucket || (b.listed && !a.listed)) return false;
  const under = a.key === '' || b.key.startsWith(`${a.key}/`);
  switch (a.kind) {
    case 'object':
      return b.kind === 'object' && b.key === a.key;
    case 'prefix':
      return under || (b.kind === 'prefix' && b.key === a.key);
    case 'tree':
      return under || b.key === a.key;
  }
}

/** Sorted by bucket and path segments, without the scopes another one covers. */
function minimal(scopes: Scope[]): Scope[] {
  const kept: Scope[] = [];
  // In sorted order a folder comes right before everything under it, so the last folder kept is the only one that can cover what follows.
  let folder: Scope | undefined;
  for (const scope of [...scopes].sort(compareScopes)) {
    if (folder && covers(folder, scope)) continue;
    const previous = kept.at(-1);
    if (previous && covers(previous, scope)) continue;
    kept.push(scope);
    if (scope.kind !== 'object') folder = scope;
  }
  return kept;
}

// At one key, a tree (which covers the other two) sorts first.
const KIND_ORDER: Record<Scope['kind'], number> = { tree: 0, prefix: 1, object: 2 };

function compareScopes(a: Scope, b: Scope): number {
  if (a.bucket !== b.bucket) return a.bucket < b.bucket ? -1 : 1;
  const x = a.key === '' ? [] : a.key.split('/');
  const y = b.key === '' ? [] : b.key.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return (x[i] as string) < (y[i] as string) ? -1 : 1;
  return x.length - y.length || KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
}

/** How many leading path segments two keys share. */
function sharedDepth(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  let depth = 0;
  while (depth < x.length && depth < y.length && x[depth] === y[depth]) depth += 1;
  return depth;
}

/** The deepest folder level (in path segments) at which two read scopes of one bucket meet; 0 when none do. */
function deepestSharedLevel(scopes: Scope[]): number {
  // In sorted order, the deepest shared folder of any two scopes is that of two neighbours.
  let deepest = 0;
  for (let i = 1; i < scopes.length; i += 1) {
    const [a, b] = [scopes[i - 1] as Scope, scopes[i] as Scope];
    if (a.bucket === b.bucket) deepest = Math.max(deepest, sharedDepth(a.key, b.key));
  }
  return deepest;
}

/** The folders at `level` that hold two scopes or more, with their scopes, largest first. */
function groupsAt(scopes: Scope[], level: number): Scope[][] {
  const groups = new Map<string, Scope[]>();
  for (const scope of scopes) {
    const segments = scope.key.split('/');
    if (segments.length < level) continue;
    const folder = `${scope.bucket}\n${segments.slice(0, level).join('/')}`;
    const group = groups.get(folder);
    if (group) group.push(scope);
    else groups.set(folder, [scope]);
  }
  return [...groups.values()].filter((g) => g.length > 1).sort((a, b) => b.length - a.length);
}

/** Each group replaced by its folder at `level`; the members of a group are adjacent in sorted order, so the order holds. */
function mergeGroups(scopes: Scope[], groups: Scope[][], level: number): Scope[] {
  const replaced = new Map<Scope, Scope | undefined>();
  for (const members of groups) {
    const first = members[0] as Scope;
    const key = first.key.split('/').slice(0, level).join('/');
    // A member that is the folder itself (an object or tree at that key) keeps the key readable too.
    const merged: Scope = { bucket: first.bucket, key, kind: members.some((m) => m.key === key) ? 'tree' : 'prefix', listed: members.some((m) => m.listed) };
    members.forEach((m, i) => replaced.set(m, i === 0 ? merged : undefined));
  }
  return scopes.flatMap((scope) => {
    if (!replaced.has(scope)) return [scope];
    const merged = replaced.get(scope);
    return merged ? [merged] : [];
  });
}

/** A key as an IAM resource or condition value: `*`, `?` and `$` in it are literal, not wildcards. */
const literal = (text: string): string => text.replace(/[*?$]/g, (c) => `\${${c}}`);

function resources(scope: Scope, partition: string): string[] {
  const base = `arn:${partition}:s3:::${scope.bucket}`;
  const key = literal(scope.key);
  if (scope.key === '') return [`${base}/*`];
  if (scope.kind === 'object') return [`${base}/${key}`];
  if (scope.kind === 'prefix') return [`${base}/${key}/*`];
  return [`${base}/${key}`, `${base}/${key}/*`];
}

function render(read: Scope[], write: Scope[], partition: string): string {
  const statements: unknown[] = [];
  if (read.length > 0) statements.push({ Sid: 'Read', Effect: 'Allow', Action: READ_ACTIONS, Resource: read.flatMap((s) => resources(s, partition)) });
  // Listing is what tells a folder from a missing object: only under the folders the stage reads.
  const listed = new Map<string, string[]>();
  for (const scope of read) {
    if (!scope.listed) continue;
    listed.set(scope.bucket, [...(listed.get(scope.bucket) ?? []), scope.key === '' ? '*' : `${literal(scope.key)}/*`]);
  }
  let n = 0;
  for (const [bucket, prefixes] of listed) {
    n += 1;
    statements.push({
      Sid: `List${n}`,
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: `arn:${partition}:s3:::${bucket}`,
      Condition: { StringLike: { 's3:prefix': prefixes } },
    });
  }
  if (write.length > 0) statements.push({ Sid: 'Write', Effect: 'Allow', Action: WRITE_ACTIONS, Resource: write.flatMap((s) => resources(s, partition)) });
  // A policy that allows nothing is still a valid one: the session can then do nothing at all.
  if (statements.length === 0) statements.push({ Sid: 'Nothing', Effect: 'Deny', Action: 's3:*', Resource: '*' });
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
