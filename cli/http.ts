export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One request to the mlfleet API: JSON in (or raw bytes with their content type), JSON out, and
 * MLflow-shaped errors turned into ApiRequestError with the server's message.
 */
export async function requestApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: { json: unknown } | { raw: Buffer; contentType: string },
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(path, baseUrl), {
      method,
      ...(body === undefined
        ? {}
        : 'json' in body
          ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body.json) }
          : { headers: { 'content-type': body.contentType }, body: body.raw }),
    });
  } catch (err) {
    const reason = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    throw new ApiRequestError(0, `cannot reach mlfleet at ${baseUrl} (${reason}); is \`mlfleet up\` running? Set MLFLEET_URL or --url otherwise.`);
  }
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const message = (parsed as { message?: unknown }).message;
    throw new ApiRequestError(response.status, typeof message === 'string' ? message : `HTTP ${response.status}`);
  }
  return parsed;
}
