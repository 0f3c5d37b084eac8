import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineFile } from '../../cli/pipeline-file';
import { SpecError } from '../../domain/pipeline-spec';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlfleet-pipeline-file-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

function issuesOf(path: string): string[] {
  try {
    loadPipelineFile(path);
    return [];
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    return error.issues;
  }
}

const YAML = `experiment: churn
stages:
  train:
    command: python train.py --epochs \${params.epochs}
    params: { epochs: 10 }
    resources: { gpu: { type: A100 } }
`;

describe('loadPipelineFile', () => {
  test('reads YAML (.yaml and .yml) and returns the spec, its absolute directory and the raw document', () => {
    mkdirSync(join(tmp, 'proj'));
    const path = write('proj/pipeline.yaml', YAML);
    const loaded = loadPipelineFile(path);
    expect(loaded.dir).toBe(join(tmp, 'proj'));
    expect(loaded.spec.stages.train?.resources?.gpu).toEqual({ type: 'A100', count: 1 });
    expect(loaded.raw).toEqual({
      experiment: 'churn',
      stages: { train: { command: 'python train.py --epochs ${params.epochs}', params: { epochs: 10 }, resources: { gpu: { type: 'A100' } } } },
    });
    expect(loadPipelineFile(write('p.yml', YAML)).spec).toEqual(loaded.spec);
  });

  test('reads JSON', () => {
    const path = write('p.json', JSON.stringify({ experiment: 'e', stages: { a: { command: 'x' } } }));
    expect(loadPipelineFile(path).spec).toEqual({ experiment: 'e', stages: { a: { command: 'x' } } });
  });

  test('a YAML syntax error names the file and the line', () => {
    const path = write('bad.yaml', 'experiment: churn\nstages:\n  a: { command: x\n  b: 1\n');
    expect(issuesOf(path)).toEqual([
      `${path}: Flow map in block collection must be sufficiently indented and end with a } at line 4, column 3`,
    ]);
  });

  test('duplicate keys (e.g. a stage declared twice) are a YAML error', () => {
    const path = write('dup.yaml', 'experiment: e\nstages:\n  a: { command: x }\n  a: { command: y }\n');
    expect(issuesOf(path)).toEqual([`${path}: Map keys must be unique at line 4, column 3`]);
  });

  test('a JSON syntax error names the file, line and column', () => {
    const path = write('bad.json', '{\n  "experiment": "e",\n  stages: {}\n}');
    const [issue, ...rest] = issuesOf(path);
    expect(rest).toEqual([]);
    // Node 20 reports only the position, which we turn into a line; newer Node versions add it themselves.
    expect(issue?.startsWith(`${path}: `)).toBe(true);
    expect(issue).toMatch(/JSON at position 25 \(line 3,? column 3\)$/);
  });

  test('an invalid spec reports the spec issues', () => {
    const path = write('invalid.yaml', 'experiment: e\nstages:\n  a: { comand: x }\n');
    expect(issuesOf(path)).toEqual(["stages.a: unknown field 'comand'", 'stages.a.command: required (expected a string)']);
  });

  test('missing, empty and wrongly named files', () => {
    expect(issuesOf(join(tmp, 'nope.yaml'))).toEqual([`${join(tmp, 'nope.yaml')}: file not found`]);
    const empty = write('empty.yaml', '# only a comment\n');
    expect(issuesOf(empty)).toEqual([`${empty}: the file is empty`]);
    const blank = write('blank.json', '  \n');
    expect(issuesOf(blank)).toEqual([`${blank}: the file is empty`]);
    const txt = write('pipeline.txt', YAML);
    expect(issuesOf(txt)).toEqual([`${txt}: expected a .yaml, .yml or .json file`]);
  });
});
