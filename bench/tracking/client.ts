import http from 'node:http';

// The one HTTP client every server is measured with: MLflow REST 2.0 JSON over keep-alive
// connections (node:http, a pool of at most `connections` sockets per server).

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export class MlflowRestClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly baseUrl: string,
    /** Prefix of the MLflow REST API on this server. */
    private readonly apiPrefix = '/api/2.0/mlflow',
    connections = 16,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  close(): void {
    this.agent.destroy();
  }

  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', `${this.apiPrefix}${path}`, JSON.stringify(body));
  }

  get<T = Record<string, unknown>>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.append(key, String(value));
    return this.request<T>('GET', `${this.apiPrefix}${path}?${search.toString()}`);
  }

  /** A plain GET outside the API prefix (health checks); resolves to the status code. */
  status(path: string): Promise<number> {
    return new Promise((resolve) => {
      const req = http.request({ host: this.host, port: this.port, path, method: 'GET', agent: false, timeout: 2_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  private request<T>(method: string, path: string, body?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: this.host, port: this.port, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new HttpError(status, path.split('?')[0] ?? path, text));
            return;
          }
          try {
            resolve((text === '' ? {} : JSON.parse(text)) as T);
          } catch (err) {
            reject(new Error(`${path}: response is not JSON: ${(err as Error).message}: ${text.slice(0, 200)}`));
          }
        });
      });
      req.setTimeout(300_000, () => req.destroy(new Error(`${path}: no response within 300 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
