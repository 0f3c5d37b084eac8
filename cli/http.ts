export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The credentials MLflow clients read from the environment: an API token (MLFLOW_TRACKING_TOKEN,
 * sent as a Bearer token) wins over a username and password (sent as HTTP Basic); neither, no
 * header, and a server with auth on answers 401 saying what to set.
 */
export function authorizationFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env.MLFLOW_TRACKING_TOKEN;
  if (token) return `Bearer ${token}`;
  const { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password } = env;
  if (username && password) return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  return undefined;
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
  const authorization = authorizationFromEnv();
  const headers: Record<string, string> = {
    ...(authorization !== undefined && { authorization }),
    ...(body !== undefined && { 'content-type': 'json' in body ? 'application/json' : body.contentType }),
  };
  let response: Response;
  try {
    response = await fetch(new URL(path, baseUrl), {
      method,
      headers,
      ...(body === undefined ? {} : { body: 'json' in body ? JSON.stringify(body.json) : body.raw }),
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
