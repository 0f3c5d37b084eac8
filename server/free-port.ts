import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A service could not listen because another process holds its port. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    detail: string,
  ) {
    super(`port ${port} on 127.0.0.1 is already in use: ${detail}`);
    this.name = 'PortInUseError';
  }
}

/**
 * Starts a service on a free port, taking another one when the port was taken between picking
 * and listening (a service that starts slowly, like PostgreSQL after initdb, leaves a window).
 */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= attempts) throw err;
    }
  }
}
