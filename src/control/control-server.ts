// The control socket: a Unix socket speaking line-delimited JSON in the spirit of QEMU's QMP. A
// client gets a greeting, sends commands as {"execute": NAME, "arguments": {...}, "id": ANY} and
// gets {"return": ...} or {"error": {"class", "desc"}} for each (with its id), in order; events
// ({"event": NAME, "data": ..., "timestamp": ...}) go to every client as they happen.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';

/** A command's answer, or a ControlError for a refusal a client should see. */
export type CommandHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>;

export class ControlError extends Error {}

export class ControlSocketError extends Error {}

const MAX_LINE_BYTES = 1 << 20;

export class ControlServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  private path: string | undefined;

  constructor(
    private readonly commands: ReadonlyMap<string, CommandHandler>,
    private readonly greeting: Record<string, unknown>,
  ) {}

  /** Listens at `path`; a socket file left by a process that is gone is replaced. */
  async listen(path: string): Promise<void> {
    await removeStaleSocket(path);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new ControlSocketError(`cannot listen on the control socket '${path}': ${error.code === 'EADDRINUSE' ? 'it is in use' : error.message}`));
      });
      server.listen(path, () => resolve());
    });
    server.on('error', () => {});
    this.server = server;
    this.path = path;
  }

  /** Sends an event to every client. */
  event(name: string, data?: Record<string, unknown>): void {
    const line = JSON.stringify({ event: name, ...(data ? { data } : {}), timestamp: timestamp() }) + '\n';
    for (const client of this.clients) client.write(line);
  }

  close(): void {
    // end(), not destroy(): answers and events already written still reach their clients.
    for (const client of this.clients) client.end();
    this.clients.clear();
    this.server?.close();
    this.server = undefined;
    if (this.path) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }

  private serve(socket: Socket): void {
    this.clients.add(socket);
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('close', () => this.clients.delete(socket));
    socket.write(JSON.stringify(this.greeting) + '\n');
    let buffered = '';
    // Commands are answered one at a time, in the order they came.
    let queue = Promise.resolve();
    socket.on('data', (text: string) => {
      buffered += text;
      if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) {
        socket.end(JSON.stringify({ error: { class: 'GenericError', desc: 'command line too long' } }) + '\n');
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === '') continue;
        queue = queue.then(() => this.answer(line)).then((reply) => {
          if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  }

  private async answer(line: string): Promise<Record<string, unknown>> {
    let request: { execute?: unknown; arguments?: unknown; id?: unknown };
    try {
      request = JSON.parse(line) as typeof request;
    } catch {
      return failure('the command is not JSON');
    }
    const id = request && typeof request === 'object' && 'id' in request ? { id: request.id } : {};
    if (!request || typeof request !== 'object' || typeof request.execute !== 'string') {
      return { ...failure('give a command as {"execute": NAME}'), ...id };
    }
    const handler = this.commands.get(request.execute);
    if (!handler) {
      return { ...failure(`unknown command '${request.execute}'; known: ${[...this.commands.keys()].join(', ')}`, 'CommandNotFound'), ...id };
    }
    const args = request.arguments ?? {};
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return { ...failure('"arguments" must be an object'), ...id };
    try {
      const value = await handler(args as Record<string, unknown>);
      return { return: value ?? {}, ...id };
    } catch (error) {
      return { ...failure((error as Error).message), ...id };
    }
  }
}

function failure(desc: string, errorClass = 'GenericError'): Record<string, unknown> {
  return { error: { class: errorClass, desc } };
}

function timestamp(): { seconds: number; microseconds: number } {
  const now = Date.now();
  return { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 };
}

/** A socket file nobody listens on any more (its process died) is removed; anything else stays. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new ControlSocketError(`cannot listen on the control socket '${path}': a file that is not a socket is there`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new ControlSocketError(`cannot listen on the control socket '${path}': another process is listening there`);
  unlinkSync(path);
}
