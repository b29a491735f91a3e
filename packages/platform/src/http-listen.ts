import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListeningHttpServer {
  server: Server;
  /** The bound port (useful when asked for port 0). */
  port: number;
  /** Drops open connections and stops listening. */
  close(): Promise<void>;
}

/** Binds a node:http server and returns its port and a close that does not wait on keep-alive sockets. */
export async function listenHttp(server: Server, host: string, port: number): Promise<ListeningHttpServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
