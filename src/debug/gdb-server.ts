// The GDB stub's listening socket (`vmm boot --gdb tcp:HOST:PORT`, `-s`): one debugger at a time,
// each connection a GdbSession on the GuestDebugger. Loopback unless another address is named:
// whoever reaches the port controls the guest.
import { createServer, type Server, type Socket } from 'node:net';
import { GdbSession } from './gdb-session.js';
import type { GuestDebugger } from './guest-debugger.js';
import { isLoopback, parseTcpAddress, TcpAddressError, type TcpAddress } from '../util/tcp-address.js';

/** QEMU's `-s`: `-gdb tcp::1234`. */
export const DEFAULT_GDB_PORT = 1234;

export type GdbAddress = TcpAddress;
export { TcpAddressError as GdbAddressError, isLoopback };

/** The GDB stub's address (see parseTcpAddress). */
export function parseGdbAddress(spec: string): GdbAddress {
  return parseTcpAddress(spec, 'GDB address');
}

export class GdbServer {
  private server: Server | undefined;
  private socket: Socket | undefined;
  private session: GdbSession | undefined;

  constructor(private readonly target: GuestDebugger) {}

  /** Listens; rejects with a one-line reason (the port is taken, the address is not this host's). */
  listen(address: GdbAddress): Promise<GdbAddress> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EADDRNOTAVAIL' ? 'the address is not this host\'s' : error.message;
        reject(new TcpAddressError(`cannot listen for GDB on ${address.host}:${address.port}: ${why}`));
      });
      server.listen(address.port, address.host, () => {
        this.server = server;
        // The stub must not keep vmm alive once the run is over.
        server.unref();
        const bound = server.address();
        resolve({ host: address.host, port: typeof bound === 'object' && bound ? bound.port : address.port });
      });
    });
  }

  /** The run is over: the debugger was told (a W or X packet); the connection and socket close. */
  close(): void {
    this.socket?.end();
    this.socket = undefined;
    this.session = undefined;
    this.server?.close();
    this.server = undefined;
  }

  private accept(socket: Socket): void {
    if (this.socket) {
      // One debugger at a time, as QEMU's stub.
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.socket = socket;
    const session = new GdbSession(this.target, (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    this.session = session;
    this.target.attach();
    this.target.onStop = (reason) => session.reportStop(reason);
    socket.on('data', (chunk) => session.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.session = undefined;
      // Gone without D or k: the guest runs on without breakpoints, as after a detach.
      this.target.detach();
    });
  }
}
