import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The layer rule and the cycle check are lint rules: these cases prove they bite, on the project's own
// eslint.config.mjs, through a child process (test/fixtures/lint-probe.mjs) since the config is ESM.
const root = join(__dirname, '..', '..');

interface LintCase {
  name: string;
  filePath: string;
  /** Absent: lint the file on disk. */
  code?: string;
}

function lint(cases: readonly LintCase[]): Map<string, string[]> {
  const probe = spawnSync(process.execPath, [join(root, 'test/fixtures/lint-probe.mjs')], { cwd: root, input: JSON.stringify(cases), encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`lint probe failed: ${probe.stderr}`);
  const results = JSON.parse(probe.stdout) as string[][];
  return new Map(cases.map((c, i) => [c.name, results[i] ?? []]));
}

/** layers.mjs's table, read by a child process since it is ESM. */
const loadLayers = (): Record<string, { imports: string[] }> =>
  JSON.parse(
    spawnSync(process.execPath, ['--input-type=module', '-e', "const m = await import('./layers.mjs'); console.log(JSON.stringify(m.LAYERS));"], { cwd: root, encoding: 'utf8' }).stdout,
  ) as Record<string, { imports: string[] }>;

const bad = [
  ['domain/ importing store/', 'domain/layer-probe.ts', '../store/pool', 'createPool'],
  ['store/ importing api/', 'store/layer-probe.ts', '../api/app', 'buildApp'],
  ['api/ importing server/', 'api/v1/layer-probe.ts', '../../server/stack', 'startStack'],
  ['activities/ importing api/', 'activities/layer-probe.ts', '../api/app', 'buildApp'],
  ['clouds/ importing store/', 'clouds/pricing/layer-probe.ts', '../../store/pool', 'createPool'],
  ['client/ importing api/', 'client/layer-probe.ts', '../api/app', 'buildApp'],
  ['emulators/ importing api/', 'emulators/layer-probe.ts', '../api/app', 'buildApp'],
] as const;

const importing = (from: string, name: string): string => `import { ${name} } from '${from}';\nexport const probe = ${name};\n`;

let results: Map<string, string[]>;

beforeAll(() => {
  results = lint([
    ...bad.map(([name, filePath, from, value]) => ({ name, filePath, code: importing(from, value) })),
    { name: 'workflow value import', filePath: 'workflows/layer-probe.ts', code: importing('../activities', 'createActivities') },
    { name: 'workflow type import', filePath: 'workflows/layer-probe.ts', code: "import type { Activities } from '../activities';\nexport type Probe = Activities;\n" },
    { name: 'downward import', filePath: 'api/v1/layer-probe.ts', code: importing('../../store/pool', 'createPool') },
    { name: 'cycle', filePath: 'test/fixtures/import-cycle/ping.ts' },
  ]);
}, 120_000);

describe('the layer rule', () => {
  test.each(bad.map(([name]) => name))('refuses %s', (name) => {
    expect(results.get(name)).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: .*may import only/)]);
  });

  test('refuses a workflow importing an activity as a value, and allows it as a type', () => {
    expect(results.get('workflow value import')).toEqual([expect.stringMatching(/^no-restricted-imports: .*activities as types only/)]);
    expect(results.get('workflow type import')).toEqual([]);
  });

  test('allows an import that points down the layers', () => {
    expect(results.get('downward import')).toEqual([]);
  });
});

describe('the cycle check', () => {
  test('refuses two modules that import each other', () => {
    expect(results.get('cycle')).toEqual([expect.stringMatching(/^import-x\/no-cycle: /)]);
  });
});

describe('the layer table', () => {
  const layers = loadLayers();

  test('names every folder of code, and only folders it has', () => {
    const codeFolders = readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !['node_modules', 'bench', 'docs', 'examples', 'scripts', 'test', 'tools', 'coverage', 'dist'].includes(entry.name))
      .map((entry) => entry.name)
      .sort();
    expect(Object.keys(layers).sort()).toEqual(codeFolders);
    for (const { imports } of Object.values(layers)) for (const name of imports) expect(codeFolders).toContain(name);
  });

  test('points one way: no two folders import each other, directly or through others', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycleFrom = (folder: string, path: string[]): string[] | undefined => {
      if (done.has(folder)) return undefined;
      if (visiting.has(folder)) return [...path, folder];
      visiting.add(folder);
      for (const next of layers[folder]?.imports ?? []) {
        const cycle = cycleFrom(next, [...path, folder]);
        if (cycle) return cycle;
      }
      visiting.delete(folder);
      done.add(folder);
      return undefined;
    };
    for (const folder of Object.keys(layers)) expect(cycleFrom(folder, [])).toBeUndefined();
  });
});

describe('the architecture page', () => {
  test('draws the layers exactly as layers.mjs has them', () => {
    const layers = loadLayers();
    const page = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    const drawn = Object.fromEntries(
      [...page.matchAll(/^- `([a-z]+)\/` \(.*\) → (.+)$/gm)].map((match): [string, string[]] => {
        const [, folder = '', imports = ''] = match;
        return [folder, imports === 'nothing' ? [] : imports.split(', ')];
      }),
    );
    expect(drawn).toEqual(Object.fromEntries(Object.entries(layers).map(([folder, { imports }]) => [folder, imports])));
  });
});
