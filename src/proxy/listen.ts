import type { Server } from 'node:http';
import { UsageError } from '../errors.js';

/**
 * Starts `server` listening; every way that fails (the port taken, a privileged port, an address this
 * machine does not have) is one UsageError line, the same for every command that listens.
 */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new UsageError(`port ${port} is already in use on ${host}; pick another with --port (or --port 0 for a free one)`));
      else if (err.code === 'EACCES') reject(new UsageError(`not allowed to listen on ${host}:${port}; use a port above 1024`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new UsageError(`cannot listen on ${host}: no such local address`));
      else reject(new UsageError(`cannot listen on ${host}:${port}: ${err.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
