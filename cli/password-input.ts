import { createInterface, type Interface } from 'node:readline';

// Passwords never come from flags (they would sit in the shell history and in `ps`): from an
// environment variable the command names, else typed on the terminal without echo, else read from
// standard input one line at a time (`printf '%s\n' "$PW" | mlfleet user create alice`).

let lines: AsyncIterator<string> | undefined;
let reader: Interface | undefined;

/** The next line of a piped standard input; undefined at its end. */
async function nextStdinLine(): Promise<string | undefined> {
  if (!lines) {
    reader = createInterface({ input: process.stdin, terminal: false });
    lines = reader[Symbol.asyncIterator]();
  }
  const next = await lines.next();
  return next.done ? undefined : next.value;
}

/** Stops reading standard input, so the process can exit. */
export function closePasswordInput(): void {
  reader?.close();
}

/** Reads a line from the terminal without echoing it; Ctrl-C aborts. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * A password: `env[envName]` when set; else typed on a terminal (twice when `confirm`, so a typo
 * does not lock anyone out); else the next line of standard input.
 */
export async function readPassword(prompt: string, opts: { envName?: string; confirm?: boolean } = {}): Promise<string> {
  const fromEnv = opts.envName === undefined ? undefined : process.env[opts.envName];
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) {
    const first = await readHidden(`${prompt}: `);
    if (opts.confirm && (await readHidden(`${prompt} (again): `)) !== first) throw new Error('the two passwords differ');
    return first;
  }
  const line = await nextStdinLine();
  if (line === undefined) {
    throw new Error(`${prompt}: standard input ended before a password line${opts.envName ? ` (or set ${opts.envName})` : ''}`);
  }
  return line.replace(/\r$/, '');
}
