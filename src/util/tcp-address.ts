// TCP addresses on the command line, in QEMU's vocabulary: the GDB stub's and live migration's.

export interface TcpAddress {
  host: string;
  port: number;
}

export class TcpAddressError extends Error {}

/**
 * `tcp:HOST:PORT`, `tcp::PORT` or `:PORT` (loopback), or a bare PORT. Port 0 takes a free port
 * (the listening line says which). `what` names the address in the error ("GDB address").
 */
export function parseTcpAddress(spec: string, what: string): TcpAddress {
  const match = /^(?:tcp:)?(?:(\[[0-9a-fA-F:.]+\]|[^:]*):)?(\d+)$/.exec(spec.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new TcpAddressError(`invalid ${what} '${spec}': give tcp:HOST:PORT, for example tcp:127.0.0.1:1234`);
  }
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '127.0.0.1' : host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** HOST:PORT as a listening line shows it (an IPv6 host in brackets). */
export function formatTcpAddress(address: TcpAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
