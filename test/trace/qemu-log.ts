// Reads a log written by scripts/qemu-trace-log.sh: the executed instructions' addresses in
// order ("Trace 0: host [cs_base/pc/flags/cflags]"), each with its bytes from the "IN:" block
// that translated it.
export interface QemuExecutedInstruction {
  pc: number;
  bytes: string; // hex, no spaces
}

export function parseQemuExecLog(log: string): QemuExecutedInstruction[] {
  const bytesAt = new Map<number, string>();
  const executed: QemuExecutedInstruction[] = [];
  for (const line of log.split('\n')) {
    const insn = /^0x([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s/.exec(line);
    if (insn) {
      bytesAt.set(parseInt(insn[1], 16), insn[2].replaceAll(' ', ''));
      continue;
    }
    const trace = /^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+\/([0-9a-f]+)\//.exec(line);
    if (trace) {
      const pc = parseInt(trace[1], 16);
      // QEMU logs a block each time it is entered, also when an exit request (its I/O thread
      // kicking the vCPU, frequent on a busy host) ends it before its first instruction: that
      // entry is logged again when the block really runs. (A repeated string instruction would
      // look the same; the compute guest the oracle runs has none.)
      if (executed.at(-1)?.pc === pc) continue;
      executed.push({ pc, bytes: bytesAt.get(pc) ?? '' });
    }
  }
  return executed;
}

/**
 * How often a guest spins in a loop that polls a device depends on the device's timing (QEMU's
 * 16550 clears THRE while it "transmits"; ours never does), not on the CPU. Drops the repeated
 * iterations of any loop of up to `maxLength` instructions that reads a port, so that two CPUs
 * can be compared instruction by instruction around such loops.
 */
export function collapsePollingLoops<T>(sequence: T[], key: (item: T) => string, readsPort: (item: T) => boolean, maxLength = 8): T[] {
  const out: T[] = [];
  for (const item of sequence) {
    out.push(item);
    for (let length = 1; length <= maxLength && 2 * length <= out.length; length++) {
      const end = out.length;
      let repeated = true;
      let polls = false;
      for (let i = 0; i < length && repeated; i++) {
        repeated = key(out[end - length + i]) === key(out[end - 2 * length + i]);
        polls ||= readsPort(out[end - length + i]);
      }
      if (repeated && polls) {
        out.length = end - length;
        break;
      }
    }
  }
  return out;
}

/** IN, INS: the one-byte opcodes that read a port (E4/E5 imm8, EC/ED DX, 6C/6D string). */
export function readsPort(bytesHex: string): boolean {
  const opcode = bytesHex.replace(/^(66|f3|f2)+/, '').slice(0, 2);
  return ['e4', 'e5', 'ec', 'ed', '6c', '6d'].includes(opcode);
}
