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
