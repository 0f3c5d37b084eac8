/**
 * `${params.NAME}`, `${inputs.NAME}` and `${outputs.NAME}` in a stage's command and env values.
 * `$${` is a literal `${`; a bare `$VAR` or `$$` is left for the shell.
 */
export type TemplateReference = { kind: 'params' | 'inputs' | 'outputs' | 'other'; name: string; raw: string };

export type TemplateValues = {
  params?: Record<string, string | number | boolean>;
  inputs?: Record<string, string>;
  outputs?: Record<string, string>;
};

export type SubstituteOptions = {
  /**
   * Quote values for /bin/sh (the default, for commands). Env values are not parsed by a shell,
   * so they take `{ shell: false }`.
   */
  shell?: boolean;
};

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const KNOWN = /^(params|inputs|outputs)\.([A-Za-z0-9_-]+)$/;

type Piece = { text: string } | { ref: TemplateReference };

function tokenize(template: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (template.startsWith('${', i)) {
      const end = template.indexOf('}', i + 2);
      // An unclosed `${` is reported whole: /bin/sh would fail on it anyway ("bad substitution").
      const raw = end < 0 ? template.slice(i) : template.slice(i, end + 1);
      const inner = end < 0 ? '' : template.slice(i + 2, end);
      const known = KNOWN.exec(inner);
      const ref: TemplateReference = known
        ? { kind: known[1] as 'params' | 'inputs' | 'outputs', name: known[2] ?? '', raw }
        : { kind: 'other', name: inner, raw };
      if (literal) pieces.push({ text: literal });
      literal = '';
      pieces.push({ ref });
      i += raw.length;
    } else {
      literal += template[i];
      i += 1;
    }
  }
  if (literal) pieces.push({ text: literal });
  return pieces;
}

/** Every `${...}` in `template`, in order (escaped `$${` excluded). */
export function templateReferences(template: string): TemplateReference[] {
  return tokenize(template).flatMap((piece) => ('ref' in piece ? [piece.ref] : []));
}

/** The message for a reference that cannot be resolved, shared with spec validation. */
export function unsupportedSubstitution(raw: string): string {
  return `unsupported substitution '${raw}': use \${params.NAME}, \${inputs.NAME} or \${outputs.NAME}`;
}

const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/** Quotes `value` for /bin/sh unless it is made only of characters the shell never interprets. */
export function shellQuote(value: string): string {
  if (SHELL_SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const SINGULAR = { params: 'param', inputs: 'input', outputs: 'output' } as const;

/** Replaces every reference in `template`; throws TemplateError on an unknown name or unsupported form. */
export function substitute(template: string, values: TemplateValues, options: SubstituteOptions = {}): string {
  const shell = options.shell ?? true;
  return tokenize(template)
    .map((piece) => {
      if ('text' in piece) return piece.text;
      const { ref } = piece;
      if (ref.kind === 'other') throw new TemplateError(unsupportedSubstitution(ref.raw));
      const table: Record<string, string | number | boolean> | undefined = values[ref.kind];
      if (!table || !Object.prototype.hasOwnProperty.call(table, ref.name)) {
        throw new TemplateError(`unknown ${SINGULAR[ref.kind]} '${ref.name}'`);
      }
      const text = String(table[ref.name]);
      return shell ? shellQuote(text) : text;
    })
    .join('');
}
