import { request as nodeRequest } from 'node:http';

export interface Reply {
  statusCode: number;
  headers: Headers;
  body: string;
  json<T = unknown>(): T;
}

/** One request over a real socket (app.inject cannot load Fastify's ESM-only cookie dependency under jest). */
export async function httpRequest(baseUrl: string, method: string, url: string, payload?: unknown): Promise<Reply> {
  const res = await fetch(`${baseUrl}${url}`, {
    method,
    ...(payload !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }),
  });
  const body = await res.text();
  return { statusCode: res.status, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

/**
 * A raw HTTP request: the path goes on the wire as written (fetch and URL would normalize `..` and
 * `%2e%2e` away before the server saw them).
 */
export function rawRequest(baseUrl: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string | number> = {}): Promise<RawReply> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = nodeRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        const text = data.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
