// Post-copy's page server on the source: the destination runs the guest and asks for each page
// the first time it touches it; the server answers at once on one link and pushes every other
// page that is not zero on another, then says all were sent (the protocol is in
// native/src/postcopy-receiver.h, which is the other end). The guest is paused here throughout,
// so a page is the same whenever it goes.
import { createServer, type Server, type Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import { isZeroPage, PAGE_BYTES } from '../snapshot/state-records.js';
import { LinkBroken } from './migration-link.js';

const ZERO_PAGE_FLAG = 0x8000_0000;
const ALL_SENT = 0xffff_ffff;
/** Pushed bytes queued at most: a request's answer waits behind no more than this. */
const PUSH_QUEUE_BYTES = 1 << 20;
/** Pages pushed per turn of the event loop. */
const PUSH_BATCH_PAGES = 64;
/** Pages after one the destination asked for that are pushed next (a guest touches runs of them). */
const NEIGHBOURS = 15;

export interface PagesServed {
  pushed: number;
  pulled: number;
  seconds: number;
}

/** A page message: its number (bit 31 for a zero page), its bytes, the CRC-32 of both. */
export function pageMessage(ram: Uint8Array, page: number): Buffer {
  const zero = isZeroPage(ram, page);
  const out = Buffer.allocUnsafe(4 + (zero ? 0 : PAGE_BYTES) + 4);
  out.writeUInt32LE((zero ? page | ZERO_PAGE_FLAG : page) >>> 0, 0);
  if (!zero) out.set(ram.subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES), 4);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

export class PageServer {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free port of `host` (the address the destination reached this host at). */
  static listen(host: string): Promise<PageServer> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', (error) => reject(new LinkBroken(`cannot open the post-copy page server: ${error.message}`)));
      server.listen(0, host, () => {
        const address = server.address();
        resolve(new PageServer(server, typeof address === 'object' && address ? address.port : 0));
      });
    });
  }

  /**
   * Waits for the destination's two connections (requests first, then pushes), then serves and
   * pushes RAM until every page is there.
   */
  serve(ram: Uint8Array, connectTimeoutMs: number): Promise<PagesServed> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new LinkBroken(`the destination did not come for its pages within ${connectTimeoutMs / 1000} s`));
      }, connectTimeoutMs);
      const links: Socket[] = [];
      this.server.on('connection', (socket) => {
        links.push(socket);
        if (links.length < 2) return;
        clearTimeout(timer);
        this.server.close();
        servePages(links[0], links[1], ram).then(resolve, reject);
      });
    });
  }

  close(): void {
    this.server.close();
  }
}

/**
 * Two links, as QEMU's postcopy-preempt has: a page asked for goes back on the request link at
 * once, never behind megabytes of pushed pages queued in the push link's socket buffers (which
 * made a guest wait tens of ms for each first touch). Every page not zero is pushed; a page
 * asked for is answered even if it was pushed already (it may still be on its way). When all are
 * pushed, both links say so: the destination has every page once it has both words, each link
 * delivering in order.
 */
function servePages(requests: Socket, pushes: Socket, ram: Uint8Array): Promise<PagesServed> {
  const started = process.hrtime.bigint();
  const pages = ram.length / PAGE_BYTES;
  const sent = new Uint8Array(pages);
  const asked = new Uint8Array(pages);
  let pushed = 0;
  let pulled = 0;
  let next = 0;
  let pending = Buffer.alloc(0);
  let finished = false;
  let allSent = false;
  let closed = 0;
  /** Pages after those asked for, pushed before the rest. */
  const nearby: number[] = [];
  for (const socket of [requests, pushes]) socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      if (finished) return;
      finished = true;
      requests.destroy();
      pushes.destroy();
      reject(new LinkBroken(message));
    };
    const pushPage = (page: number) => {
      sent[page] = 1;
      pushed++;
      pushes.write(pageMessage(ram, page));
    };
    // A batch per turn of the event loop, so that requests are read between batches: on
    // loopback the kernel takes writes as fast as they come, so the queue alone would never make
    // the loop give way.
    let scheduled = false;
    const push = () => {
      scheduled = false;
      let batch = PUSH_BATCH_PAGES;
      while (!finished && !allSent && pushes.writableLength < PUSH_QUEUE_BYTES && batch > 0) {
        // The neighbours of the pages the guest asked for first: it is likely to touch them next.
        if (nearby.length > 0) {
          const page = nearby.shift()!;
          if (page < pages && !sent[page] && !isZeroPage(ram, page)) {
            pushPage(page);
            batch--;
          }
          continue;
        }
        while (next < pages && (sent[next] || isZeroPage(ram, next))) next++;
        if (next === pages) {
          // Done once the destination, having every page, closes both links: closing first could
          // reset one (requests unread here) and take its last pages with it.
          allSent = true;
          const end = Buffer.allocUnsafe(4);
          end.writeUInt32LE(ALL_SENT, 0);
          requests.end(end);
          pushes.end(end);
          return;
        }
        pushPage(next++);
        batch--;
      }
      if (!finished && !allSent && !scheduled && pushes.writableLength < PUSH_QUEUE_BYTES) {
        scheduled = true;
        setImmediate(push);
      }
    };
    requests.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let at = 0;
      for (; at + 4 <= pending.length; at += 4) {
        const page = pending.readUInt32LE(at);
        if (page >= pages) return fail(`the destination asked for page ${page}, beyond the guest's ${pages}`);
        if (asked[page] || finished || allSent) continue;
        asked[page] = 1;
        sent[page] = 1;
        pulled++;
        requests.write(pageMessage(ram, page));
        for (let i = 1; i <= NEIGHBOURS; i++) nearby.push(page + i);
      }
      pending = pending.subarray(at);
      if (nearby.length > 0 && !scheduled) {
        scheduled = true;
        setImmediate(push);
      }
    });
    pushes.on('drain', () => {
      if (!scheduled) push();
    });
    for (const socket of [requests, pushes]) {
      socket.on('error', (error) => fail(`the link to the destination failed during post-copy: ${error.message}`));
      socket.on('close', () => {
        if (!allSent) return fail('the destination went away during post-copy');
        if (++closed < 2) return;
        finished = true;
        resolve({ pushed, pulled, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      });
    }
    push();
  });
}
