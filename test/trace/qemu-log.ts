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
      executed.push({ pc, bytes: bytesAt.get(pc) ?? '' });
    }
  }
  return executed;
}
