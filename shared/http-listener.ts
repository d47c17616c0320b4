// The lifecycle of the small HTTP servers the farm runs itself (the static
// web server of a one-machine farm, the PyPI stand-in): listen, answer a
// request whose handler failed, report the URL, and stop without waiting for
// open connections.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Told of each request whose handler failed (the client gets a 500, or a dropped connection once the answer has begun). */
  onError?: (error: unknown) => void;
}

export interface HttpListener {
  /** http://host:port, the host in brackets when it is IPv6. */
  readonly url: string;
  /** Closes the server, dropping open connections so that keep-alive clients do not hold it up; again, does nothing. */
  stop(): Promise<void>;
}

export type AsyncRequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export async function listenHttp(handler: AsyncRequestListener, options: ListenOptions = {}): Promise<HttpListener> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      options.onError?.(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = 'internal error\n';
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
  });
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
      if (!server.listening) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
