// The lifecycle of the small HTTP servers the farm runs itself (the static
// web server of a one-machine farm, the PyPI stand-in): listen, report the
// URL, and stop without waiting for idle keep-alive clients.
import { createServer, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';

export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface HttpListener {
  /** http://host:port, the host in brackets when it is IPv6. */
  readonly url: string;
  /** Closes the server, dropping open connections so that keep-alive clients do not hold it up. */
  stop(): Promise<void>;
}

export async function listenHttp(handler: RequestListener, options: ListenOptions = {}): Promise<HttpListener> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the HTTP server has no TCP address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
