/** A price API answered with an error status, or not at all, or not with JSON. */
export class PriceApiError extends Error {
  override readonly name = 'PriceApiError';

  constructor(
    readonly api: string,
    /** The HTTP status, or undefined when there was no answer. */
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

// A price API that hangs must fail the refresh, not hold it forever.
const REQUEST_TIMEOUT_MS = 30_000;

/** GETs `url` and returns its JSON body; anything else is a PriceApiError naming the API and the URL's path. */
export async function fetchJson(url: string, api: string, headers: Record<string, string> = {}): Promise<unknown> {
  const path = new URL(url).pathname;
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new PriceApiError(api, undefined, `${api}: GET ${path} failed: ${cause}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new PriceApiError(api, response.status, `${api}: GET ${path} answered HTTP ${response.status}: ${text.slice(0, 300)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PriceApiError(api, response.status, `${api}: GET ${path} answered HTTP ${response.status} with a body that is not JSON`);
  }
}
