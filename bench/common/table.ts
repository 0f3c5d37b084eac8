// The benchmarks print one table of results to the console and write it again into their markdown
// report; both take the rows as text, the header first and the row label in the first column.

/**
 * Columns padded to their widest cell, the label left-aligned and the figures right-aligned; then,
 * after a blank line, the notes (skips, failures) that explain an empty or odd cell.
 */
export function consoleTable(rows: readonly (readonly string[])[], notes: readonly string[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  const out = rows.map(line);
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n');
}

/** A GitHub markdown table with the figures right-aligned. */
export function markdownTable(rows: readonly (readonly string[])[]): string[] {
  const md = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  const [header = [], ...body] = rows;
  return [md(header), md(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(md)];
}
