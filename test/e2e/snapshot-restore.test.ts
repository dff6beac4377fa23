// The machine as state: a running Debian Linux paused, saved and restored (under every engine
// that runs unmodified guests, several times from one file: clones) goes on counting with no
// gap and no repeat; the control socket's commands; a damaged snapshot is a one-line error.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { FLAT_ARGS, sleep, VmmProcess, writeGuest } from './cli-process.js';
import { guestPath, runVmm, runVmmAsync } from './run-vmm.js';
import { bootCounter, ctl, expectWholeCount, reached, workDir } from './machine-state-guest.js';

const COUNT = 300;
const LINUX_TEST_MS = 300_000;

describe.each(unmodifiedGuestEngines)('snapshot under %s, restore under every engine where that is sound', (sourceEngine) => {
  it('a paused Linux saved to a file goes on counting where it stood, and each restore is a clone of its own', async () => {
    const dir = workDir();
    const socket = join(dir, 'control');
    const file = join(dir, 'linux.snap');
    const source = bootCounter(socket, COUNT, { args: ['-e', sourceEngine] });
    await reached(source, 40);
    expect((await ctl(socket, 'stop')).status).toBe(0);
    expect((await ctl(socket, 'query-status')).value).toMatchObject({ status: 'paused', running: false, engine: sourceEngine });
    await sleep(300); // the console's last bytes reach stdout
    const atStop = source.stdout;
    const saved = await ctl(socket, 'snapshot', `file=${file}`);
    expect(saved.status, saved.error).toBe(0);
    expect(saved.value!.bytes as number).toBeGreaterThan(1 << 20);
    // Zero pages take no space: the 128 MiB guest's file holds the pages it uses.
    expect(saved.value!.bytes as number).toBeLessThan(128 << 20);
    expect((await ctl(socket, 'quit')).status).toBe(0);
    const ended = await source.end();
    expect(ended.status).toBe(0);
    expect(ended.stderr).toMatch(/quit on the control socket/);
    // The guest printed nothing while paused, and nothing after.
    expect(ended.stdout).toBe(atStop);

    // A kernel saved on ring 1 has ring-1 selectors in the frames on its stacks: it restores
    // only where it runs on ring 1 again.
    const sound = unmodifiedGuestEngines.filter((engine) => !createEngine(sourceEngine).deprivilegesKernel || createEngine(engine).deprivilegesKernel);
    const restores = await Promise.all(sound.map((engine) => runVmmAsync(['restore', file, '-e', engine, '--no-stdin', '--time-limit', '200'], 240)));
    restores.forEach((run, i) => {
      expect(run.status, `${sound[i]}: ${run.stderr}`).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`restored '.*linux\\.snap' \\(\\d+ pages\\) in [\\d.]+ s; the guest runs under ${sound[i]}`));
      expect(run.stderr).toMatch(/guest powered off \(ACPI S5\)/);
      expectWholeCount(atStop + run.stdout, COUNT);
    });
    for (const engine of unmodifiedGuestEngines.filter((e) => !sound.includes(e))) {
      const refused = runVmm(['restore', file, '-e', engine]);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`^vmm: error: '.*linux\\.snap': the machine ran under ${sourceEngine}, whose guest kernel runs on ring 1: .* restore it under trap or bt\n$`));
    }
  }, LINUX_TEST_MS);
});

describe('the control socket on a running machine', () => {
  it('stop and cont from the control socket: the guest stands still while paused, and query-counters gives its exits', async () => {
    const dir = workDir();
    const socket = join(dir, 'control');
    const source = bootCounter(socket, COUNT);
    await reached(source, 20);
    expect((await ctl(socket, 'stop')).status).toBe(0);
    await sleep(300);
    const paused = source.stdout;
    await sleep(1000);
    expect(source.stdout).toBe(paused);
    const counters = await ctl(socket, 'query-counters');
    expect(counters.value!['io-out'] as number).toBeGreaterThan(0);
    expect((await ctl(socket, 'cont')).status).toBe(0);
    expect((await ctl(socket, 'query-status')).value).toMatchObject({ status: 'running', running: true });
    const ended = await source.end();
    expect(ended.status).toBe(0);
    expectWholeCount(ended.stdout, COUNT);
  }, LINUX_TEST_MS);

  it('a paravirtual kernel is not saved (its events and pinned tables are not carried), and runs on', async () => {
    const dir = workDir();
    const socket = join(dir, 'control');
    const guest = new VmmProcess(['boot', guestPath('pvkernel.elf'), '-e', 'paravirt', '-a', 'bench=1 iterations=2000000', '--no-stdin', '--control', socket], {}, 120_000);
    await guest.waitFor('nanobench ');
    const refused = await ctl(socket, 'snapshot', `file=${join(dir, 'x.snap')}`);
    expect(refused.status).toBe(1);
    expect(refused.error).toBe("vmm: snapshot: cannot save this machine: the paravirt engine keeps a paravirtual kernel's events, trap table and pinned page tables, which snapshots do not carry yet");
    const ended = await guest.end();
    expect(ended.status, ended.stderr).toBe(1);
  }, LINUX_TEST_MS);
});

describe('snapshot files and the control socket as bad input', () => {
  it('one flipped byte in a snapshot is a one-line error; the intact file restores', async () => {
    const dir = workDir();
    const socket = join(dir, 'control');
    const file = join(dir, 'spin.snap');
    const guest = new VmmProcess(['boot', writeGuest(dir, 'readySpin'), ...FLAT_ARGS, '--control', socket], {}, 60_000);
    await guest.waitFor('R\n');
    expect((await ctl(socket, 'snapshot', `file=${file}`)).status).toBe(0);
    const unknown = await ctl(socket, 'bogus');
    expect(unknown.status).toBe(1);
    expect(unknown.error).toMatch(/^vmm: bogus: unknown command 'bogus'; known: query-status, stop, cont, snapshot, migrate/);
    const noFile = await ctl(socket, 'snapshot');
    expect(noFile.error).toBe('vmm: snapshot: snapshot needs a "file" argument');
    const unwritable = await ctl(socket, 'snapshot', `file=${join(dir, 'no', 'such', 'dir.snap')}`);
    expect(unwritable.error).toMatch(/^vmm: snapshot: cannot write '.*dir\.snap': ENOENT/);
    expect((await ctl(socket, 'quit')).status).toBe(0);
    expect((await guest.end()).status).toBe(0);

    // The intact file: the guest spins on where it was (it printed before the snapshot only).
    const intact = runVmm(['restore', file, '--no-stdin', '--time-limit', '1']);
    expect(intact.stdout).toBe('');
    expect(intact.stderr).toMatch(/wall-clock limit of 1 s reached/);
    expect(intact.status).toBe(6);

    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    const damaged = join(dir, 'damaged.snap');
    writeFileSync(damaged, bytes);
    const run = runVmm(['restore', damaged]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^vmm: error: '.*damaged\.snap': the machine state is damaged \(a record (fails its checksum|header is invalid)\)\n$/);
    const cut = join(dir, 'cut.snap');
    writeFileSync(cut, readFileSync(file).subarray(0, -100));
    const short = runVmm(['restore', cut]);
    expect(short.stderr).toMatch(/^vmm: error: '.*cut\.snap': the machine state is cut short\n$/);
  });

  it('restore of a missing file, of a file that is not a snapshot, and of nothing', () => {
    const dir = workDir();
    const notSnapshot = join(dir, 'plain.bin');
    writeFileSync(notSnapshot, 'hello, this is not a machine');
    const missing = runVmm(['restore', join(dir, 'none.snap')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vmm: error: cannot read snapshot '.*none\.snap': ENOENT \(no such file or directory\)\n$/);
    const plain = runVmm(['restore', notSnapshot]);
    expect(plain.status).toBe(2);
    expect(plain.stderr).toMatch(/^vmm: error: '.*plain\.bin': this is not a vmm machine state \(no VMMSTATE header\)\n$/);
    const nothing = runVmm(['restore']);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toBe('vmm: error: give a snapshot file, or --incoming tcp:HOST:PORT to receive a migration\n');
    const both = runVmm(['restore', notSnapshot, '--incoming', 'tcp::1']);
    expect(both.stderr).toBe('vmm: error: give either a snapshot file or --incoming, not both\n');
    const badAddress = runVmm(['restore', '--incoming', 'tcp:nowhere']);
    expect(badAddress.stderr).toMatch(/^vmm: error: invalid migration address 'tcp:nowhere'/);
    const notHere = runVmm(['restore', '--incoming', 'tcp:192.0.2.1:4444']);
    expect(notHere.status).toBe(2);
    expect(notHere.stderr).toBe("vmm: error: cannot listen for an incoming migration on 192.0.2.1:4444: the address is not this host's\n");
    const badCpu = runVmm(['restore', notSnapshot, '--cpu', 'max,-avx']);
    expect(badCpu.stderr).toMatch(/^vmm: error: invalid CPU feature mask '-avx'/);
  });

  it('ctl to a socket that is not there, and arguments that are not NAME=VALUE', () => {
    const dir = workDir();
    const gone = runVmm(['ctl', join(dir, 'none'), 'query-status']);
    expect(gone.status).toBe(2);
    expect(gone.stderr).toMatch(/^vmm: error: cannot reach the control socket '.*none': no such socket\n$/);
    const badArgument = runVmm(['ctl', join(dir, 'none'), 'snapshot', 'file']);
    expect(badArgument.stderr).toBe("vmm: error: invalid argument 'file': give NAME=VALUE\n");
  });
});
