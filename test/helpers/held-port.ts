import { createServer, type Server } from 'node:net';

/** A port on 127.0.0.1 held by another listener, which drops whoever connects. */
export async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
