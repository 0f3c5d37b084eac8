import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { HTTP_API_PAGE, openApiDocument, renderHttpApiMarkdown, Slugger } from '../../scripts/openapi-markdown';

// The documentation's own checks, so it cannot quietly drift from the code: the generated HTTP
// reference is current, every relative link and #anchor resolves, every repository path a page
// names exists, the entry pages stay short enough to read, and no page points outside the repository.

const ROOT = resolve(__dirname, '..', '..');
const DOCS = join(ROOT, 'docs');
const PAGES = [join(ROOT, 'README.md'), ...readdirSync(DOCS).filter((name) => name.endsWith('.md')).map((name) => join(DOCS, name))];

const read = (file: string): string => readFileSync(file, 'utf8');
const name = (file: string): string => relative(ROOT, file);

interface Link {
  line: number;
  target: string;
}

/** The page with code fences and inline code blanked out (line numbers kept), so only prose is checked. */
function prose(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length && line.trim() === opener) fence = undefined;
      return '';
    }
    if (opener !== undefined) {
      fence = opener;
      return '';
    }
    return line.replace(/(`+)(.+?)\1/g, (span) => ' '.repeat(span.length));
  });
}

/** Inline links and images, `[text](target "title")`, outside code. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  prose(markdown).forEach((line, index) => {
    for (const match of line.matchAll(/!?\[[^\]]*\]\(([^)\s]*)(?:\s+"[^"]*")?\)/g)) {
      links.push({ line: index + 1, target: match[1] ?? '' });
    }
  });
  return links;
}

/** The anchors GitHub gives a page: one per heading (repeats numbered), plus explicit `<a id>` / `<a name>`. */
function anchorsOf(markdown: string): Set<string> {
  const slugs = new Slugger();
  const anchors = new Set<string>();
  const source = markdown.split('\n');
  prose(markdown).forEach((line, index) => {
    // Headings are found in the prose view, their text read from the source (code spans included).
    if (/^ {0,3}#{1,6}\s/.test(line)) {
      const text = (source[index] ?? '')
        .replace(/^ {0,3}#{1,6}\s+/, '')
        .replace(/\s+#+\s*$/, '')
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/`/g, '')
        .trim();
      anchors.add(slugs.slug(text));
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1] ?? '');
  });
  return anchors;
}

test('docs/http-api.md is what `npm run docs:api` generates from the OpenAPI document', async () => {
  const fresh = renderHttpApiMarkdown(await openApiDocument());
  // On a mismatch: run `npm run docs:api` and commit docs/http-api.md.
  expect(read(HTTP_API_PAGE)).toBe(fresh);
});

test('README.md stays under 15 KB and docs/architecture.md under 20 KB', () => {
  expect(statSync(join(ROOT, 'README.md')).size).toBeLessThan(15_000);
  expect(statSync(join(DOCS, 'architecture.md')).size).toBeLessThan(20_000);
});

test('the README starts with the two commands that work on a fresh machine', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(read(join(ROOT, 'README.md')))?.[1] ?? '';
  expect(firstBlock).toMatch(/^npm run demo\b/m);
  expect(firstBlock).toMatch(/^npm test\b/m);
});

test.each(PAGES.map((file) => [name(file), file]))('every relative link and #anchor in %s resolves', (_label, file) => {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (page: string): Set<string> => {
    let found = anchorCache.get(page);
    if (!found) anchorCache.set(page, (found = anchorsOf(read(page))));
    return found;
  };
  for (const { line, target } of linksOf(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: … are not checked here
    const where = `${name(file)}:${line} (${target})`;
    const [path = '', fragment] = target.split('#', 2);
    const linked = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (linked !== ROOT && !linked.startsWith(ROOT + sep)) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (!existsSync(linked)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (fragment !== undefined) {
      if (!linked.endsWith('.md')) problems.push(`${where}: an anchor into a file that is not Markdown`);
      else if (!anchors(linked).has(decodeURIComponent(fragment))) problems.push(`${where}: no heading with the anchor #${fragment}`);
    }
  }
  expect(problems).toEqual([]);
});

// Top-level folders of the repository: a code span that starts with one names a file or folder.
const REPO_PATH = /^(?:bin|cli|emulators|server|api|client|activities|workflows|clouds|agent|store|storage|domain|scripts|test|bench|examples|tools|docs)\/[\w./-]*$/;

/** The text of every inline code span outside code fences, with its line. */
function codeSpans(markdown: string): Link[] {
  const spans: Link[] = [];
  const fenced = prose(markdown);
  markdown.split('\n').forEach((line, index) => {
    if (fenced[index] === '' && line !== '') return; // a fence or a line inside one
    for (const match of line.matchAll(/(`+)(.+?)\1/g)) spans.push({ line: index + 1, target: (match[2] ?? '').trim() });
  });
  return spans;
}

test.each(PAGES.map((file) => [name(file), file]))('every repository path %s names in code exists', (_label, file) => {
  const missing = codeSpans(read(file))
    .filter(({ target }) => REPO_PATH.test(target))
    .filter(({ target }) => !existsSync(join(ROOT, target)))
    .map(({ line, target }) => `${name(file)}:${line}: ${target}`);
  expect(missing).toEqual([]);
});

test.each(PAGES.map((file) => [name(file), file]))('%s refers to nothing outside the repository and to no issue numbers', (_label, file) => {
  const text = read(file);
  expect(text).not.toMatch(/\.\.\/shared\/|DESIGN\.md|\b[Ii]ssue \d+/);
});
