// Sending a built wheel to the master: a fresh DEALER per file, as piwheels'
// slaves do, running the shared sender until the master says DONE. The whole
// transfer is bounded: a master busy timeout without DONE means the master
// has dropped us anyway, so the slave moves on and reports SENT.
import { createSocket } from '../shared/wire/transport.ts';
import { sendFile } from '../shared/wire/file-transfer.ts';
import type { Logger } from '../shared/log.ts';
import type { FileSender } from './slave.ts';

export function fileSender(limitMs: number, logger: Logger): FileSender {
  return async (endpoint, slaveId, path, signal) => {
    // the master only sends FETCH and DONE, a few bytes each
    const socket = createSocket('DEALER', { logger, hwm: 10, linger: 1, maxMessageSize: 4096 });
    socket.connect(endpoint);
    try {
      await sendFile(socket, slaveId, path, { signal: AbortSignal.any([signal, AbortSignal.timeout(limitMs)]) });
    } finally {
      socket.close(1);
    }
  };
}
