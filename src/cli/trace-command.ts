// `vmm trace [image]`: boot a guest with every executed instruction recorded.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { isElf, parseElf32, type ElfSymbol } from '../boot/elf32.js';
import { Decoder } from '../decode/decoder.js';
import { parseTraceFilter, TraceFilterError, type TraceFilterOptions } from '../trace/filters.js';
import type { TraceModule } from '../trace/trace-record.js';
import { Tracer } from '../trace/tracer.js';
import { createTraceWriter, TRACE_FORMATS, type TraceFormat } from '../trace/writers.js';
import { hex } from '../util/hex.js';
import { executeRun, outputFailure, prepareRun, reportRun, type BootOptions } from './boot-command.js';
import { describeErrno } from '../util/errno.js';
import { RunStopper } from './run-stop.js';
import { TraceFileOutput } from './trace-output.js';
import { UserError } from './user-error.js';

// Unicorn retranslates blocks while a code hook is installed, so a traced run fills whatever
// translated-code buffer it has before recycling it: a small one bounds the tracer's memory at
// little cost (a full buffer is flushed and refilled).
const TRACE_TRANSLATION_BUFFER_BYTES = 64 * 1024 * 1024;

export interface TraceOptions extends BootOptions, TraceFilterOptions {
  traceFormat: string;
  output?: string;
  mem: boolean;
}

export async function traceCommand(imagePath: string | undefined, options: TraceOptions): Promise<number> {
  const format = options.traceFormat as TraceFormat;
  if (!TRACE_FORMATS.includes(format)) {
    throw new UserError(`unknown trace format '${options.traceFormat}'; choose one of ${TRACE_FORMATS.join(', ')}`);
  }
  let filter;
  try {
    filter = parseTraceFilter(options);
  } catch (error) {
    if (error instanceof TraceFilterError) throw new UserError(error.message);
    throw error;
  }
  let traceFd = 1;
  if (options.output !== undefined) {
    try {
      traceFd = openSync(options.output, 'w');
    } catch (error) {
      throw new UserError(`cannot write the trace to '${options.output}': ${describeErrno(error)}`);
    }
  }
  const stopper = new RunStopper();
  // With the trace on standard output, the guest's console goes to standard error.
  const prepared = prepareRun(imagePath, options, traceFd === 1 ? 2 : 1, {
    translationBufferBytes: TRACE_TRANSLATION_BUFFER_BYTES,
    stopper,
  });
  const traceName = options.output === undefined ? 'the trace to standard output' : `the trace to '${options.output}'`;
  // A pipe on standard output is made non-blocking (as Node's own stream for it does), so that a
  // write that has to wait for the reader is seen as such: signals keep their default action then.
  if (traceFd === 1 && isPipe(1)) void process.stdout;
  const out = new TraceFileOutput(traceFd, (error) => stopper.stop(outputFailure(error, traceName)), {
    blocked: () => prepared.signals.uninstall(),
    unblocked: () => prepared.signals.install(),
  });
  // The module is the image's own bytes, not what the loader built around it (GDT, boot info).
  const reserved = prepared.plan.reserved;
  const own = prepared.plan.chunks.filter(
    (c) => !reserved.some((r) => c.guestPhys >= r.guestPhys && c.guestPhys < r.guestPhys + r.length),
  );
  const spans = (own.length > 0 ? own : prepared.plan.chunks).map((c) => [c.guestPhys, c.guestPhys + c.bytes.length]);
  const module: TraceModule = {
    id: 0,
    path: prepared.imagePath,
    base: Math.min(...spans.map(([start]) => start)),
    end: Math.max(...spans.map(([, end]) => end)),
    entry: prepared.plan.entry.eip,
  };
  const writer = createTraceWriter(format, out.write, { modules: [module], withMemory: options.mem });
  const { machine } = prepared;
  const tracer = new Tracer(machine.vcpu, await Decoder.create(), writer, {
    filter,
    symbols: symbolsOf(prepared.image),
    symbolSpan: { base: module.base, end: module.end },
    now: () => machine.clock.nowNs(),
    onCountReached: (recorded) => machine.stop({ kind: 'trace-complete', instructions: recorded }),
  });
  machine.observer = tracer;
  machine.vcpu.setTracing(true, options.mem);
  const run = await executeRun(prepared, options);
  // However the run ended (a signal too), the trace is completed: a valid file in every format.
  writer.end(tracer.summary(run.result.exits));
  out.flush();
  if (traceFd !== 1) closeSync(traceFd);
  const status = reportRun(run, prepared.engine, stopper);
  if (stopper.request?.kind !== 'quiet') process.stderr.write(traceSummary(tracer));
  return status;
}

function isPipe(fd: number): boolean {
  const stat = fstatSync(fd);
  return stat.isFIFO() || stat.isSocket();
}

function symbolsOf(image: Uint8Array): ElfSymbol[] | undefined {
  if (!isElf(image)) return undefined;
  try {
    const symbols = parseElf32(image).symbols();
    return symbols.length > 0 ? symbols : undefined;
  } catch {
    return undefined;
  }
}

function traceSummary(tracer: Tracer): string {
  const mix = Object.entries(tracer.mnemonics)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([mnemonic, count]) => `${mnemonic} ${count}`)
    .join(', ');
  const blocks = tracer
    .hottestBlocks(20)
    .map((b, i) => `vmm:   ${String(i + 1).padStart(2)}. ${hex(b.linear)} ${String(b.count).padStart(10)}${b.symbol ? `  ${b.symbol}` : ''}`)
    .join('\n');
  return (
    `vmm: trace: ${tracer.instructionsExecuted} instructions executed, ${tracer.instructionsRecorded} recorded\n` +
    `vmm: instruction mix (recorded): ${mix}\n` +
    `vmm: hottest basic blocks (executions):\n${blocks}\n`
  );
}
