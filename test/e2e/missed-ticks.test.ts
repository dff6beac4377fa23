// A host that does not run the VMM for a while (a busy machine; here the test stops the process)
// costs the guest no timer ticks: the periods that passed come as interrupts once it runs again,
// as Linux's check that its timer works expects (guests/ticks). Through the 8259 (the PIT) and
// through the I/O APIC (the HPET in legacy replacement mode, Linux's route), under every engine
// that runs unmodified guests.
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { sleep, VmmProcess } from './cli-process.js';
import { exitCounts, guestPath } from './run-vmm.js';

const SPIN_MS = 1500;
const STOP_MS = 300;

describe.each(unmodifiedGuestEngines)('timer ticks under %s', (engine) => {
  it.each(['pit', 'hpet'])('%s: every period of a spin comes as an interrupt, though the VMM was stopped for part of it', async (source) => {
    const vmm = new VmmProcess(['boot', guestPath('ticks.elf'), '-a', `source=${source} ms=${SPIN_MS}`, '--no-stdin', '-e', engine, '--time-limit', '60'], {}, 60_000);
    await vmm.waitFor(`ticks: ${source} spinning\n`);
    await sleep(200);
    vmm.kill('SIGSTOP');
    await sleep(STOP_MS);
    vmm.kill('SIGCONT');
    const ended = await vmm.end();
    // Merged into one edge, the stop's periods would be some 75 ticks short of the count.
    expect(ended.stdout).toMatch(new RegExp(`^ticks: ${source} spinning\\nticks: \\d+ of \\d+\\nticks ok\\n$`));
    expect(ended.status, ended.stderr).toBe(1);
    const [counted, expected] = /ticks: (\d+) of (\d+)/.exec(ended.stdout)!.slice(1).map(Number);
    expect(expected).toBeGreaterThanOrEqual((SPIN_MS / 4) - 1);
    expect(exitCounts(ended.stderr)['irq-injected']).toBeGreaterThanOrEqual(counted);
  }, 90_000);
});
