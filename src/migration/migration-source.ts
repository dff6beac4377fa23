// Live migration's sending side, pre-copy as in Clark et al. (NSDI 2005): all of RAM while the
// guest runs, then rounds that resend what the dirty log says was written since, until what is
// left would go within the downtime limit at the rate the link has shown (or the rounds stop
// converging); then stop-and-copy: pause, the last pages, the vCPU and the devices, and the
// destination resumes the guest. Until the destination says it runs the guest, nothing here
// harms the source: any failure turns dirty logging off and leaves (or puts) the guest running.
import { connect } from 'node:net';
import type { Engine } from '../vmm/engine.js';
import type { Machine } from '../vmm/machine.js';
import type { RunControl } from '../vmm/run-control.js';
import { formatTcpAddress, type TcpAddress } from '../util/tcp-address.js';
import { captureAtBoundary, encodeState, hello, whyStateCannotBeSaved } from '../snapshot/machine-state.js';
import { encodeJson, encodePages, encodeRecord, PAGE_BYTES, RecordType, STATE_MAGIC } from '../snapshot/state-records.js';
import { LinkBroken, MigrationLink } from './migration-link.js';
import { PageServer } from './postcopy-pages.js';

export interface MigrationSettings {
  address: TcpAddress;
  /** The longest pause the guest may see, in ms (QEMU's downtime-limit; 300 by default). */
  downtimeLimitMs: number;
  /** Pre-copy rounds at most before the source stops converging by decree. */
  maxRounds: number;
  /** What follows rounds that do not converge: stop-and-copy anyway (a longer pause), or abort. */
  onNoConvergence: 'stop-and-copy' | 'abort';
  /**
   * Post-copy (Hines and Gopalan): pause at once, send the vCPU and devices, let the destination
   * run the guest, and serve it RAM on first touch while pushing the rest.
   */
  postcopy: boolean;
}

export const DEFAULT_DOWNTIME_LIMIT_MS = 300;
export const DEFAULT_MAX_ROUNDS = 30;
/** Rounds in a row whose dirty set did not shrink to 90% of the smallest so far: not converging. */
const STALLED_ROUNDS = 4;
const CONNECT_TIMEOUT_MS = 5000;
const REPLY_TIMEOUT_MS = 10_000;

export interface RoundReport {
  round: number;
  pages: number;
  bytes: number;
  ms: number;
}

export interface MigrationReport {
  status: 'active' | 'completed' | 'failed';
  uri: string;
  mode: 'pre-copy' | 'post-copy';
  rounds: RoundReport[];
  /** How the last copy came about: converged, or forced after rounds that did not. */
  how?: string;
  /** The pause as the source measured it: from the stop to the destination's word that it runs. */
  downtimeMs?: number;
  /** Pages sent while the guest was paused. */
  stopCopyPages?: number;
  totalMs?: number;
  bytes: number;
  /** Post-copy: pages pushed, and pulled by the destination's first touches. */
  pagesPushed?: number;
  pagesPulled?: number;
  error?: string;
}

export class MigrationSource {
  readonly report: MigrationReport;

  constructor(
    private readonly machine: Machine,
    private readonly engine: Engine,
    private readonly control: RunControl,
    private readonly settings: MigrationSettings,
  ) {
    this.report = { status: 'active', uri: `tcp:${formatTcpAddress(settings.address)}`, mode: settings.postcopy ? 'post-copy' : 'pre-copy', rounds: [], bytes: 0 };
  }

  /** Runs the migration to its end; never throws (the report says how it went). */
  async run(): Promise<void> {
    const started = process.hrtime.bigint();
    const why = whyStateCannotBeSaved(this.machine, this.engine);
    if (why) return this.failed(`cannot migrate: ${why}`);
    let link: MigrationLink | undefined;
    let pausedHere = false;
    let handedOver = false;
    try {
      link = await this.connect();
      await this.send(link, STATE_MAGIC);
      await this.send(link, encodeJson(RecordType.hello, hello(this.machine, this.engine)));
      expectOk(await link.nextReply(REPLY_TIMEOUT_MS), 'ready');
      if (this.settings.postcopy) return await this.postcopy(link, started, () => (pausedHere = true), () => (handedOver = true));
      this.machine.vcpu.setDirtyLogging(true, true);
      const pages = this.machine.ram.length / PAGE_BYTES;
      // Round 0: every page that is not zero (the destination's RAM starts zeroed).
      let rate = await this.round(link, 0, range(pages), true);
      let how = '';
      let smallest = Infinity;
      let stalled = 0;
      for (let round = 1; ; round++) {
        const dirty = dirtyPages(this.machine.vcpu.takeDirtyLog(true));
        const expectedMs = (dirty.length * PAGE_BYTES) / rate * 1000;
        if (expectedMs <= this.settings.downtimeLimitMs) {
          how = `pre-copy converged after ${round} rounds`;
          await this.stopAndCopy(link, dirty, () => (pausedHere = true));
          break;
        }
        stalled = dirty.length < smallest * 0.9 ? 0 : stalled + 1;
        smallest = Math.min(smallest, dirty.length);
        if (round >= this.settings.maxRounds || stalled >= STALLED_ROUNDS) {
          const reason = round >= this.settings.maxRounds ? `${round} rounds` : `${round} rounds, the last ${stalled} not converging`;
          if (this.settings.onNoConvergence === 'abort') {
            throw new LinkBroken(`pre-copy did not converge after ${reason} (${dirty.length} pages still dirty); aborted as configured`);
          }
          how = `stop-and-copy after ${reason} without convergence (${dirty.length} pages dirty)`;
          await this.stopAndCopy(link, dirty, () => (pausedHere = true));
          break;
        }
        rate = await this.round(link, round, dirty, false);
      }
      expectOk(await link.nextReply(REPLY_TIMEOUT_MS), 'resumed');
      handedOver = true;
      this.report.downtimeMs = Number(process.hrtime.bigint() - this.pausedAt) / 1e6;
      this.report.how = how;
      this.report.totalMs = Number(process.hrtime.bigint() - started) / 1e6;
      this.report.status = 'completed';
      link.close();
      this.machine.vcpu.setDirtyLogging(false);
      const rounds = this.report.rounds.map((r) => `${r.pages} pages in ${r.ms.toFixed(0)} ms`).join(', ');
      this.control.end(
        `guest migrated to ${this.report.uri}: ${how}, downtime ${this.report.downtimeMs.toFixed(1)} ms (${this.report.stopCopyPages} pages), ` +
          `${(this.report.bytes / 1048576).toFixed(1)} MiB in ${(this.report.totalMs / 1000).toFixed(2)} s; rounds: ${rounds}`,
      );
    } catch (error) {
      link?.destroy();
      if (!handedOver) {
        this.machine.vcpu.setDirtyLogging(false);
        if (pausedHere) this.control.resume();
      }
      this.failed((error as Error).message);
    }
  }

  private pausedAt = 0n;
  /** Pages to send are read through the dirty log, which then compares with what was sent. */
  private readonly readPages = (pages: number[]) => this.machine.vcpu.readPages(Uint32Array.from(pages));

  /**
   * Post-copy: from the destination's word that the guest runs there, the guest is its own; a
   * failure after that loses the guest (its memory is split between the two), which the source's
   * run reports rather than resuming a guest that has gone on elsewhere.
   */
  private async postcopy(link: MigrationLink, started: bigint, paused: () => void, handedOver: () => void): Promise<void> {
    const server = await PageServer.listen(link.socket.localAddress ?? '127.0.0.1');
    try {
      await this.control.pause();
      paused();
      this.pausedAt = process.hrtime.bigint();
      const state = await captureAtBoundary(this.machine, this.engine, this.control);
      await this.send(link, encodeRecord(RecordType.state, encodeState(state)));
      await this.send(link, encodeJson(RecordType.postcopy, { port: server.port }));
      const serving = server.serve(this.machine.ram, REPLY_TIMEOUT_MS);
      serving.catch(() => {});
      expectOk(await link.nextReply(REPLY_TIMEOUT_MS), 'resumed');
      handedOver();
      this.report.downtimeMs = Number(process.hrtime.bigint() - this.pausedAt) / 1e6;
      link.close();
      let served;
      try {
        served = await serving;
      } catch (error) {
        const message = `post-copy to ${this.report.uri} failed after the guest moved: ${(error as Error).message}; its memory was split between the two hosts, and it is lost`;
        this.failed(message);
        this.control.end(message, true);
        return;
      }
      this.report.pagesPushed = served.pushed;
      this.report.pagesPulled = served.pulled;
      this.report.bytes += (served.pushed + served.pulled) * PAGE_BYTES;
      this.report.how = 'post-copy';
      this.report.totalMs = Number(process.hrtime.bigint() - started) / 1e6;
      this.report.status = 'completed';
      this.control.end(
        `guest migrated to ${this.report.uri} by post-copy: downtime ${this.report.downtimeMs.toFixed(1)} ms, ` +
          `${served.pushed} pages pushed and ${served.pulled} pulled on first touch, ${(this.report.totalMs / 1000).toFixed(2)} s in all`,
      );
    } finally {
      server.close();
    }
  }

  private async stopAndCopy(link: MigrationLink, dirtyBefore: number[], paused: () => void): Promise<void> {
    await this.control.pause();
    paused();
    this.pausedAt = process.hrtime.bigint();
    // (Taken first: finding a guest instruction boundary may run the guest a little more.)
    const state = await captureAtBoundary(this.machine, this.engine, this.control);
    // What was dirty when the last round was measured, and what the guest wrote since.
    const last = new Set([...dirtyBefore, ...dirtyPages(this.machine.vcpu.takeDirtyLog(true))]);
    this.report.stopCopyPages = last.size;
    for (const record of encodePages(this.readPages, [...last].sort((a, b) => a - b), false)) await this.send(link, record);
    await this.send(link, encodeRecord(RecordType.state, encodeState(state)));
    await this.send(link, encodeRecord(RecordType.end, new Uint8Array(0)));
  }

  /** Sends one round's pages; returns the rate it went at (bytes per second). */
  private async round(link: MigrationLink, round: number, pages: Iterable<number>, omitZero: boolean): Promise<number> {
    const started = process.hrtime.bigint();
    let bytes = 0;
    let count = 0;
    for (const record of encodePages(this.readPages, pages, omitZero, omitZero ? this.machine.vcpu.zeroPageMap() : undefined)) {
      count += record.readUInt32LE(5);
      bytes += record.length;
      await this.send(link, record);
    }
    await link.drained();
    const ms = Math.max(Number(process.hrtime.bigint() - started) / 1e6, 0.001);
    this.report.rounds.push({ round, pages: count, bytes, ms });
    return (bytes / ms) * 1000;
  }

  private async send(link: MigrationLink, chunk: Uint8Array): Promise<void> {
    this.report.bytes += chunk.length;
    await link.send(chunk);
  }

  private connect(): Promise<MigrationLink> {
    const { host, port } = this.settings.address;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LinkBroken(`no destination answered at ${this.report.uri} within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new MigrationLink(socket, 'the destination'));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = error.code === 'ECONNREFUSED' ? 'nothing listens there' : error.message;
        reject(new LinkBroken(`cannot reach the destination at ${this.report.uri}: ${why}`));
      });
    });
  }

  private failed(message: string): void {
    this.report.status = 'failed';
    this.report.error = message;
  }
}

function expectOk(reply: Record<string, unknown>, what: string): void {
  if (typeof reply.error === 'string') throw new LinkBroken(`the destination refused the migration: ${reply.error}`);
  if (reply.ok !== what) throw new LinkBroken(`the destination sent an unexpected reply (${JSON.stringify(reply)})`);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The page numbers a dirty bitmap names. */
export function dirtyPages(bitmap: Uint8Array): number[] {
  const pages: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const bits = bitmap[byte];
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) pages.push(byte * 8 + bit);
  }
  return pages;
}
