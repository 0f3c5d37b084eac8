import type { IncomingMessage } from 'node:http';

/** The body was not JSON; each emulator answers it the way its cloud does. */
export class InvalidJsonBody extends Error {
  constructor() {
    super('body: not JSON');
  }
}

/** A request's body parsed as JSON; undefined when it is empty. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidJsonBody();
  }
}
