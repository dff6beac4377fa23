// The GDB stub with a real client: Debian's gdb in batch mode against the debuggee sample guest
// (built with symbols), under every registered engine. What is checked is what a user of GDB
// sees: breakpoints by function name, registers and locals, exact steps, watchpoints, the guest's
// exit status, Ctrl-C, detach and kill, and the guest's own view under engines that deprivilege it.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createEngine, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { exitCounts, guestPath, ROOT, runVmm, VMM, type VmmRun } from './run-vmm.js';

const DEBUGGEE = guestPath('debuggee.elf');

/** Where the debuggee's linker put a symbol (`nm`), so that no address is written twice. */
function symbolAddress(name: string): number {
  const listing = spawnSync('nm', [DEBUGGEE], { encoding: 'utf8' }).stdout;
  const match = new RegExp(`^([0-9a-f]{8}) [bBdD] ${name}$`, 'm').exec(listing);
  if (!match) throw new Error(`no symbol ${name} in ${DEBUGGEE}`);
  return parseInt(match[1], 16);
}
const MARKER_PAGE = symbolAddress('marker_page');
const PAGE_DIR = symbolAddress('page_dir');
const GDB = '/usr/bin/gdb';

interface Stub {
  port: number;
  /** vmm's end: its exit status and everything it printed. */
  ended: Promise<VmmRun>;
  /** Resolves once the guest has printed `text`. */
  printed(text: string): Promise<void>;
}

/** Starts `vmm boot --gdb tcp:127.0.0.1:0` and waits for the line naming the port it listens on. */
function startStub(args: string[]): Promise<Stub> {
  const child = spawn(process.execPath, [VMM, 'boot', '--no-stdin', '--gdb', 'tcp:127.0.0.1:0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  let stdout = '';
  let stderr = '';
  const ended = new Promise<VmmRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  const waiting: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of waiting) if (stdout.includes(w.text)) w.resolve();
  });
  const printed = (text: string) =>
    new Promise<void>((resolve) => (stdout.includes(text) ? resolve() : waiting.push({ text, resolve })));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /GDB stub listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
      if (match) resolve({ port: Number(match[1]), ended, printed });
    });
    void ended.then((run) => reject(new Error(`vmm ended before listening: ${run.stderr}`)));
  });
}

/** Runs gdb in batch mode with these commands against the stub; `interrupt` resolving is a user's Ctrl-C. */
function runGdb(port: number, commands: string[], interrupt?: Promise<void>): Promise<string> {
  const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', `target remote 127.0.0.1:${port}`];
  for (const command of commands) args.push('-ex', command);
  args.push(DEBUGGEE);
  // One descriptor for both streams (2>&1, then exec): gdb prints a monitor reply on stderr and
  // what follows on stdout, and two pipes read apart could interleave them.
  const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', GDB, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // GDB sends the interrupt to the stub when the user presses Ctrl-C (SIGINT).
  void interrupt?.then(() => child.kill('SIGINT'));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

/** The value GDB printed for `print`/`p/x` (its last `$N = value` line). */
function printed(output: string, index: number): string {
  const match = new RegExp(`^\\$${index} = (.*)$`, 'm').exec(output);
  if (!match) throw new Error(`no $${index} in gdb's output:\n${output}`);
  return match[1];
}

describe('the GDB stub', () => {
  it('uses Debian\'s gdb, which the setup script installs', () => {
    expect(spawnSync(GDB, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^GNU gdb/);
  });

  // Engines that take a debugger; the others refuse it with a one-line error (tested below).
  const debuggable = unmodifiedGuestEngines.filter((name) => !createEngine(name).debuggerUnsupported);
  for (const engine of debuggable) {
    it(`under ${engine}: breakpoints by name, registers, locals, exact steps, a watchpoint and the exit status`, async () => {
      const stub = await startStub(['--engine', engine, '--gdb-wait', DEBUGGEE]);
      const output = await runGdb(stub.port, [
        'break step_here',
        'continue',
        'print n', // $1
        'next',
        'print local', // $2
        // Two instructions ahead, as the disassembler sees them; a step ends at the second.
        'x/2i $pc',
        'stepi',
        'p/x $pc', // $3
        'stepi',
        'stepi',
        'p/x $cs', // $4: the guest's kernel selector, ring 0 whatever ring the engine runs it on
        'monitor info registers',
        'x/wx 0xc0000000',
        'maint packet Qqemu.PhyMemMode:1',
        `x/wx 0x${MARKER_PAGE.toString(16)}`,
        'x/wx 0xc0000000',
        'maint packet Qqemu.PhyMemMode:0',
        'watch watched',
        'continue',
        'continue',
        'delete',
        'continue',
      ]);
      const vmm = await stub.ended;
      expect(output).toContain('Breakpoint 1, step_here (n=1)');
      expect(printed(output, 1)).toBe('1');
      expect(printed(output, 2)).toBe('4');
      // x/2i marks the current instruction with '=> '; the next line is the following one.
      const next = /^\s+(0x[0-9a-f]+) <step_here\+\d+>:/m.exec(output.split('=> ')[1] ?? '');
      expect(next, output).not.toBeNull();
      expect(printed(output, 3)).toBe(next![1]);
      expect(printed(output, 4)).toBe('0x8');
      expect(output).toMatch(/CPL=0\n/);
      // The guest's own page directory, not a shadow the engine may run it on.
      expect(output).toContain(`CR3=${PAGE_DIR.toString(16).padStart(8, '0')}`);
      // Linear 0xc0000000 maps the marker page; physical 0xc0000000 is no RAM.
      expect(output).toMatch(/0xc0000000:\s+0x600df00d/);
      expect(output).toMatch(new RegExp(`0x${MARKER_PAGE.toString(16)} <marker_page>:\\s+0x600df00d`));
      expect(output).toContain('Cannot access memory at address 0xc0000000');
      // The watchpoint: hit by the second call's write, stopped after it.
      expect(output).toMatch(/Old value = 1\s+New value = 2/);
      expect(output).toMatch(/step_here \(n=2\) at .*main\.c:\d+\n\d+\s+return local;/);
      expect(output).toContain('exited with code 013');
      expect(vmm.status).toBe(11);
      expect(vmm.stdout).toContain('step_here 3 -> 10\ndebuggee done watched=3');
    });

    it(`under ${engine}: hardware breakpoints, access and read watchpoints, register writes`, async () => {
      const stub = await startStub(['--engine', engine, '--gdb-wait', DEBUGGEE]);
      const output = await runGdb(stub.port, [
        'hbreak step_here',
        'continue',
        'set $eax = 0x1234',
        'p/x $eax', // $1
        'delete',
        'awatch watched',
        'continue',
        'delete',
        'rwatch watched',
        'continue',
        'delete',
        'continue',
      ]);
      const vmm = await stub.ended;
      expect(output).toContain('Hardware assisted breakpoint 1 at');
      expect(output).toContain('Breakpoint 1, step_here (n=1)');
      expect(printed(output, 1)).toBe('0x1234');
      // The access watchpoint sees step_here's first write; the read watchpoint kmain's read at the end.
      expect(output).toMatch(/Hardware access \(read\/write\) watchpoint 2: watched\s+Old value = 0\s+New value = 1/);
      expect(output).toMatch(/Hardware read watchpoint 3: watched\s+Value = 3\s+.*in kmain/);
      expect(vmm.status).toBe(11);
    });

    it(`under ${engine}: Ctrl-C stops a running guest; it goes on when released, and after detach it runs to its end`, async () => {
      const stub = await startStub(['--engine', engine, '--gdb-wait', DEBUGGEE, '-a', 'spin=1']);
      const spinning = stub.printed('spinning until a debugger sets release');
      const output = await runGdb(
        stub.port,
        [
          'continue',
          'print release', // $1
          // Steps through a loop that ran millions of times before any hook existed: each one
          // instruction, so the addresses repeat with the loop's length.
          ...Array.from({ length: 8 }, () => ['stepi', 'p/x $eip']).flat(), // $2-$9
          'set var release = 1',
          'break step_here',
          'continue',
          'detach',
        ],
        spinning.then(() => new Promise((resolve) => setTimeout(resolve, 300))),
      );
      const vmm = await stub.ended;
      expect(output).toContain('Program received signal SIGINT');
      expect(printed(output, 1)).toBe('0');
      const steps = Array.from({ length: 8 }, (_, i) => Number(printed(output, i + 2)));
      const loop = new Set(steps).size;
      expect(loop, steps.map((a) => a.toString(16)).join(' ')).toBeGreaterThanOrEqual(2);
      expect(loop).toBeLessThanOrEqual(4);
      for (let i = 0; i + loop < steps.length; i++) expect(steps[i + loop]).toBe(steps[i]);
      for (let i = 0; i + 1 < steps.length; i++) expect(steps[i + 1]).not.toBe(steps[i]);
      expect(output).toContain('Breakpoint 1, step_here (n=1)');
      expect(output).toContain('detached');
      expect(vmm.stdout).toContain('debuggee done watched=3');
      expect(vmm.status).toBe(11);
    });
  }

  it('kill ends the run, with the guest stopped where the debugger left it', async () => {
    const stub = await startStub(['--gdb-wait', DEBUGGEE]);
    const output = await runGdb(stub.port, ['break step_here', 'continue', 'kill']);
    const vmm = await stub.ended;
    expect(output).toContain('Breakpoint 1, step_here (n=1)');
    expect(vmm.stderr).toContain('vmm: the debugger killed the guest');
    expect(vmm.stdout).not.toContain('step_here 1 ->');
    expect(vmm.status).toBe(0);
  });

  it('time stopped in the debugger is not guest time', async () => {
    const started = performance.now();
    const stub = await startStub(['--gdb-wait', DEBUGGEE]);
    await runGdb(stub.port, ['break step_here', 'continue', 'shell sleep 3', 'delete', 'continue']);
    const vmm = await stub.ended;
    const wallSeconds = (performance.now() - started) / 1000;
    expect(vmm.status).toBe(11);
    expect(exitCounts(vmm.stderr).time).toBeLessThan(wallSeconds - 2.5);
  });

  it('a debugger that goes away without detaching leaves the guest running to its end', async () => {
    const stub = await startStub(['--gdb-wait', DEBUGGEE]);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(stub.port, '127.0.0.1', () => socket.write('$?#3f'));
      socket.on('data', (data) => {
        if (data.toString().includes('$T05')) socket.destroy();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const vmm = await stub.ended;
    expect(vmm.stdout).toContain('debuggee done watched=3');
    expect(vmm.status).toBe(11);
  });

  it('a taken port is a one-line error', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const run = runVmm(['boot', '--no-stdin', '--gdb', `tcp:127.0.0.1:${port}`, DEBUGGEE]);
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`vmm: error: cannot listen for GDB on 127.0.0.1:${port}: the address is already in use\n`);
    } finally {
      taken.close();
    }
  });

  it('a malformed address is a one-line error', () => {
    const run = runVmm(['boot', '--no-stdin', '--gdb', 'tcp:127.0.0.1:port', DEBUGGEE]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("vmm: error: invalid GDB address 'tcp:127.0.0.1:port': give tcp:HOST:PORT, for example tcp:127.0.0.1:1234\n");
  });
});
