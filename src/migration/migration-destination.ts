// Live migration's receiving side (`vmm restore --incoming tcp:HOST:PORT`): waits for one source,
// builds the machine its HELLO describes, takes pages as rounds bring them, and once the stream
// has ended whole gives the machine its state. A damaged stream, a machine it cannot build, or a
// source gone before the end is refused with a one-line reason sent to the source too.
import { createServer, type Server } from 'node:net';
import type { Machine } from '../vmm/machine.js';
import { formatTcpAddress, TcpAddressError, type TcpAddress } from '../util/tcp-address.js';
import type { StateHello } from '../snapshot/machine-state.js';
import { RecordReader } from '../snapshot/state-records.js';
import { StateReceiver } from '../snapshot/state-receiver.js';
import { MigrationLink } from './migration-link.js';

export interface IncomingMigration {
  machine: Machine;
  hello: StateHello;
  /** Tell the source the guest runs here now: `link.reply({ ok: 'resumed' })`. */
  link: MigrationLink;
  pagesReceived: number;
  /** From the first byte to the end of the stream. */
  seconds: number;
  /** The rest of RAM comes by post-copy (vcpu.postcopyStatus() says how it goes). */
  postcopy: boolean;
}

export class MigrationRefused extends Error {}

/** Listens at `address`; `listening` is told where (port 0 picks one). */
export async function receiveMigration(
  address: TcpAddress,
  build: (hello: StateHello) => Machine,
  listening: (where: string) => void,
): Promise<IncomingMigration> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EADDRNOTAVAIL' ? "the address is not this host's" : error.message;
      reject(new TcpAddressError(`cannot listen for an incoming migration on ${formatTcpAddress(address)}: ${why}`));
    });
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  listening(typeof bound === 'object' && bound ? formatTcpAddress({ host: bound.address, port: bound.port }) : formatTcpAddress(address));
  try {
    return await receiveOne(server, build);
  } finally {
    server.close();
  }
}

function receiveOne(server: Server, build: (hello: StateHello) => Machine): Promise<IncomingMigration> {
  return new Promise((resolve, reject) => {
    server.once('connection', (socket) => {
      server.close(); // one source
      const started = process.hrtime.bigint();
      const reader = new RecordReader();
      const receiver = new StateReceiver(build);
      let done = false;
      const refuse = (message: string) => {
        if (done) return;
        done = true;
        link.reply({ error: message });
        link.close();
        receiver.machine?.close();
        reject(new MigrationRefused(message));
      };
      const link: MigrationLink = new MigrationLink(socket, 'the source', (chunk) => {
        if (done) return;
        try {
          for (const record of reader.push(chunk)) {
            const hadHello = receiver.hello !== undefined;
            receiver.accept(record);
            if (!hadHello && receiver.hello) link.reply({ ok: 'ready' });
            if (receiver.ended) {
              if (reader.partial) throw new MigrationRefused('the migration stream goes on after its end');
              if (receiver.postcopyPort !== undefined) {
                // The source's page server is where the source is, at the port it named.
                const host = (socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
                try {
                  receiver.machine!.vcpu.startPostcopy(host, receiver.postcopyPort);
                } catch (error) {
                  throw new MigrationRefused(`cannot receive by post-copy: ${(error as Error).message}`);
                }
              }
              const machine = receiver.finish();
              done = true;
              resolve({
                machine, hello: receiver.hello!, link, pagesReceived: receiver.pagesReceived,
                seconds: Number(process.hrtime.bigint() - started) / 1e9, postcopy: receiver.postcopyPort !== undefined,
              });
              return;
            }
          }
        } catch (error) {
          refuse((error as Error).message);
        }
      });
      socket.on('close', () => {
        if (done) return;
        done = true;
        receiver.machine?.close();
        reject(new MigrationRefused(`the source went away before the migration completed (${receiver.pagesReceived} pages received)`));
      });
    });
  });
}
