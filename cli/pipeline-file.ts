import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { PipelineSpec } from '../domain/pipeline-spec';
import { parsePipelineSpec, SpecError } from '../domain/pipeline-spec';

export type PipelineFile = {
  spec: PipelineSpec;
  /** Absolute directory holding the file: the root of the code bundle and of relative paths. */
  dir: string;
  /** The document as parsed, before validation and defaults. */
  raw: unknown;
};

/** Where a JSON syntax error is, as line and column (Node 20 reports only a character offset). */
function jsonErrorMessage(error: Error, text: string): string {
  const at = /at position (\d+)/.exec(error.message);
  if (!at || /line \d+/.test(error.message)) return error.message;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${error.message} (line ${line}, column ${column})`;
}

function parseText(text: string, file: string, format: 'yaml' | 'json'): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new SpecError([`${file}: ${jsonErrorMessage(error as Error, text)}`]);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    // yaml appends a multi-line excerpt after "at line L, column C:"; keep the first line.
    const firstLine = (message: string) => (message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new SpecError(doc.errors.map((error) => `${file}: ${firstLine(error.message)}`));
  }
  return doc.toJS() as unknown;
}

/**
 * Reads and validates a pipeline file (.yaml, .yml or .json). Every problem, from a missing file to
 * a syntax error to an invalid spec, is a SpecError; syntax errors are prefixed with the file path.
 */
export function loadPipelineFile(path: string): PipelineFile {
  const ext = extname(path).toLowerCase();
  const format = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (!format) throw new SpecError([`${path}: expected a .yaml, .yml or .json file`]);

  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new SpecError([`${path}: ${reason}`]);
  }
  if (text.trim() === '') throw new SpecError([`${path}: the file is empty`]);

  const raw = parseText(text, path, format);
  // A YAML file of only comments parses to null: say so rather than "expected an object".
  if (raw === null || raw === undefined) throw new SpecError([`${path}: the file is empty`]);
  return { spec: parsePipelineSpec(raw), dir: dirname(resolve(path)), raw };
}
