/** Where a stage input comes from: another stage's output in the same launch, or data at a URI. */
export type InputRef = { kind: 'upstream'; stage: string; output: string } | { kind: 'uri'; uri: string };

/**
 * A stage input as a spec writes it: the reference alone, or `{uri, copy}` for data in a bucket
 * without versioning, which can only be pinned by copying its objects at pin time.
 */
export type InputSpec = string | { uri: string; copy?: boolean | undefined };

/** The reference of an input, however it was written. */
export const inputValue = (input: InputSpec): string => (typeof input === 'string' ? input : input.uri);

/** True when the input opted into copy mode. */
export const copiesInput = (input: InputSpec): boolean => typeof input !== 'string' && input.copy === true;

// Structural only: whether the stage and output exist (and are well-named) is checked by the
// pipeline spec, which can then say "unknown stage 'x'" instead of a vaguer syntax error.
const UPSTREAM = /^stages\.([^.\s]+)\.outputs\.([^.\s]+)$/;

// The storage layer reads these schemes; a bucket or path must follow the scheme.
const URI = /^(s3:\/\/[^/\s]+|file:\/\/\S+)/;

/** Parses an input value; `undefined` means it is neither an upstream reference nor a supported URI. */
export function parseInputRef(value: string): InputRef | undefined {
  const upstream = UPSTREAM.exec(value);
  if (upstream) return { kind: 'upstream', stage: upstream[1] ?? '', output: upstream[2] ?? '' };
  if (URI.test(value)) return { kind: 'uri', uri: value };
  return undefined;
}
