// `vmm ctl SOCKET COMMAND [NAME=VALUE...]`: one command on a running vmm's control socket; the
// answer's value is printed as JSON, a refusal as a one-line error (status 1).
import { createConnection } from 'node:net';
import { UserError } from './user-error.js';

/** Status of a command the VMM refused (the socket answered with an error). */
export const COMMAND_REFUSED_STATUS = 1;

/** NAME=VALUE: VALUE as JSON when it is (a number, true, an object), else as a string. */
export function parseCommandArguments(words: string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const equals = word.indexOf('=');
    if (equals <= 0) throw new UserError(`invalid argument '${word}': give NAME=VALUE`);
    const text = word.slice(equals + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // a plain string
    }
    args[word.slice(0, equals)] = value;
  }
  return args;
}

export async function ctlCommand(socketPath: string, command: string, words: string[]): Promise<number> {
  const args = parseCommandArguments(words);
  const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = '';
    let greeted = false;
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ execute: command, arguments: args, id: 1 }) + '\n'));
    socket.on('data', (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (!greeted) {
          greeted = true;
          continue;
        }
        if (message.id === 1) {
          socket.end();
          resolve(message);
          return;
        }
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? 'no such socket' : error.code === 'ECONNREFUSED' ? 'nothing listens there' : error.message;
      reject(new UserError(`cannot reach the control socket '${socketPath}': ${why}`));
    });
    socket.on('close', () => reject(new UserError(`the control socket '${socketPath}' closed before answering`)));
  });
  const error = reply.error as { desc?: string } | undefined;
  if (error) {
    process.stderr.write(`vmm: ${command}: ${error.desc ?? 'refused'}\n`);
    return COMMAND_REFUSED_STATUS;
  }
  process.stdout.write(JSON.stringify(reply.return ?? {}) + '\n');
  return 0;
}
