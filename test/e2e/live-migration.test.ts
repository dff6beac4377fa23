// Live migration between two vmm processes on loopback: Debian's Linux counting goes on on the
// destination with no gap and no repeat, by pre-copy and by post-copy, to every engine that
// runs unmodified guests; a guest that dirties memory faster than the rounds converge; and the
// faults a migration must survive (a CPU the destination lacks, a link cut, a damaged stream,
// a source that dies during post-copy).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { sleep, VmmProcess } from './cli-process.js';
import { guestPath } from './run-vmm.js';
import { bootCounter, ctl, expectWholeCount, faultyLink, incoming, migrationEnd, reached, workDir } from './machine-state-guest.js';

const COUNT = 400;
const LINUX_TEST_MS = 300_000;

/**
 * Each engine to itself, and moves between engines: from direct to one that deprivileges the
 * kernel, and between the two that do (a kernel that ran on ring 1 does not go back to direct:
 * snapshot-restore.test.ts checks the refusal).
 */
const MOVES = [...unmodifiedGuestEngines.map((engine) => [engine, engine]), ['direct', 'trap'], ['bt', 'trap']];

describe.each(MOVES)('live migration from %s to %s', (sourceEngine, engine) => {
  it.each([['pre-copy', 'false'], ['post-copy', 'true']])('%s: the guest counts on at the destination, no line lost or repeated', async (mode, postcopy) => {
    const socket = join(workDir(), 'control');
    const destination = await incoming(['-e', engine]);
    const source = bootCounter(socket, COUNT, { args: ['-e', sourceEngine] });
    await reached(source, 30);
    expect((await ctl(socket, 'migrate', `uri=${destination.uri}`, `postcopy=${postcopy}`)).status).toBe(0);
    const sourceEnd = await source.end();
    expect(sourceEnd.status, sourceEnd.stderr).toBe(0);
    expect(sourceEnd.stderr).toMatch(mode === 'pre-copy' ? /vmm: guest migrated to tcp:127\.0\.0\.1:\d+: pre-copy converged after \d+ rounds, downtime [\d.]+ ms/ : /vmm: guest migrated to tcp:127\.0\.0\.1:\d+ by post-copy: downtime [\d.]+ ms, \d+ pages pushed and \d+ pulled on first touch/);
    const destinationEnd = await destination.process.end();
    expect(destinationEnd.status, destinationEnd.stderr).toBe(0);
    expect(destinationEnd.stderr).toContain(`the guest runs here under ${engine}`);
    expect(destinationEnd.stderr).toMatch(/guest powered off \(ACPI S5\)/);
    if (mode === 'post-copy') expect(destinationEnd.stderr).toMatch(/post-copy complete: \d+ pages, \d+ of them pulled on first touch/);
    // The serial console follows the guest: the destination's output goes on where the source's stopped.
    expectWholeCount(sourceEnd.stdout + destinationEnd.stdout, COUNT);
  }, LINUX_TEST_MS);
});

describe('live migration of a guest that dirties memory faster than the link converges', () => {
  it('falls back to stop-and-copy and says so; configured to abort, or with its destination killed, leaves the source running', async () => {
    const socket = join(workDir(), 'control');
    // guests/dirtier: every page of 32 MiB written round after round, far faster than a round goes.
    const rounds = 12000;
    const source = new VmmProcess(['boot', guestPath('dirtier.elf'), '-a', `rounds=${rounds}`, '-m', '128', '--no-stdin', '--control', socket], {}, 240_000);
    await source.waitFor('DIRTY-ROUND 50\n');
    const first = await incoming();
    expect((await ctl(socket, 'migrate', `uri=${first.uri}`, 'downtime-limit=20', 'max-rounds=3', 'on-no-convergence=abort')).status).toBe(0);
    const aborted = await migrationEnd(socket, source);
    expect(aborted.status).toBe('failed');
    expect(aborted.error).toMatch(/^pre-copy did not converge after 3 rounds \(\d+ pages still dirty\); aborted as configured$/);
    expect((aborted.rounds as unknown[]).length).toBe(3);
    const firstEnd = await first.process.end();
    expect(firstEnd.status).toBe(2);
    expect(firstEnd.stderr).toMatch(/vmm: error: incoming migration: the source went away before the migration completed/);

    // A destination killed while rounds go on: the source runs on.
    const killed = await incoming();
    expect((await ctl(socket, 'migrate', `uri=${killed.uri}`, 'downtime-limit=20', 'max-rounds=1000', 'on-no-convergence=abort')).status).toBe(0);
    // (Soon: rounds that do not shrink end pre-copy after a few of them.)
    await sleep(200);
    killed.process.kill('SIGKILL');
    const gone = await migrationEnd(socket, source);
    expect(gone.status).toBe('failed');
    expect(gone.error).toMatch(/the destination closed the link|the link to the destination failed/);
    expect((await ctl(socket, 'query-status')).value).toMatchObject({ status: 'running' });

    const second = await incoming();
    expect((await ctl(socket, 'migrate', `uri=${second.uri}`, 'downtime-limit=20', 'max-rounds=3')).status).toBe(0);
    const sourceEnd = await source.end();
    expect(sourceEnd.stderr).toMatch(/guest migrated to tcp:[\d.:]+: stop-and-copy after 3 rounds without convergence \(\d+ pages dirty\), downtime/);
    const destinationEnd = await second.process.end();
    // The guest's own check of every page it wrote, after the move.
    expect(destinationEnd.stdout).toContain('dirtier ok: 8192 pages\n');
    expect(destinationEnd.status, destinationEnd.stderr).toBe(1);
    const numbers = [...(sourceEnd.stdout + destinationEnd.stdout).matchAll(/^DIRTY-ROUND (\d+)$/gm)].map((m) => Number(m[1]));
    expect(numbers.length).toBe(rounds);
    expect(numbers.every((n, i) => n === i + 1)).toBe(true);
  }, LINUX_TEST_MS);
});

describe('migration faults', () => {
  it('a CPU the destination lacks, a link cut mid-way and a damaged stream each fail the migration and leave the source running; the next one succeeds', async () => {
    const socket = join(workDir(), 'control');
    // Enough lines to outlive four failed migrations on a busy host (a line is about 30 ms).
    const source = bootCounter(socket, 1500, { args: ['--cpu', 'max'] });
    await reached(source, 20);

    // VMotion's CPU check: the guest was given SMEP, SMAP and RDTSCP, which qemu32 lacks.
    const plain = await incoming(['--cpu', 'qemu32']);
    expect((await ctl(socket, 'migrate', `uri=${plain.uri}`)).status).toBe(0);
    const refused = await migrationEnd(socket, source);
    expect(refused.error).toBe(
      'the destination refused the migration: the guest was given CPU model max, with smep, smap, rdtscp, which this host\'s model qemu32 lacks ' +
        '(start the guest with a model both hosts have, such as qemu32 or a mask like max,-smep,-smap,-rdtscp)',
    );
    expect((await plain.process.end()).status).toBe(2);

    // The link dies after 2 MiB of the first round.
    const cutTarget = await incoming();
    const cut = await faultyLink(cutTarget.uri, { cutAfter: 2 << 20 });
    expect((await ctl(socket, 'migrate', `uri=${cut.uri}`)).status).toBe(0);
    const broken = await migrationEnd(socket, source);
    expect(broken.status).toBe('failed');
    expect(broken.error).toMatch(/the destination|the link/);
    const cutEnd = await cutTarget.process.end();
    expect(cutEnd.status).toBe(2);
    expect(cutEnd.stderr).toMatch(/the source went away before the migration completed/);
    cut.close();

    // One byte flipped in the stream: the destination refuses it.
    const damagedTarget = await incoming();
    const damaged = await faultyLink(damagedTarget.uri, { flipAt: 3 << 20 });
    expect((await ctl(socket, 'migrate', `uri=${damaged.uri}`)).status).toBe(0);
    const spoiled = await migrationEnd(socket, source);
    expect(spoiled.status).toBe('failed');
    const damagedEnd = await damagedTarget.process.end();
    expect(damagedEnd.status).toBe(2);
    expect(damagedEnd.stderr).toMatch(/vmm: error: incoming migration: the machine state is damaged \(a record fails its checksum\)/);
    damaged.close();

    // Nothing to reach at all.
    const nowhere = await ctl(socket, 'migrate', 'uri=tcp:127.0.0.1:1');
    expect(nowhere.status).toBe(0);
    expect((await migrationEnd(socket, source)).error).toBe('cannot reach the destination at tcp:127.0.0.1:1: nothing listens there');

    // After all that, the guest has run on, and moves.
    expect((await ctl(socket, 'query-status')).value).toMatchObject({ status: 'running' });
    const good = await incoming(['--cpu', 'max']);
    expect((await ctl(socket, 'migrate', `uri=${good.uri}`)).status).toBe(0);
    const sourceEnd = await source.end();
    expect(sourceEnd.status).toBe(0);
    const goodEnd = await good.process.end();
    expect(goodEnd.status, goodEnd.stderr).toBe(0);
    expectWholeCount(sourceEnd.stdout + goodEnd.stdout, 1500);
  }, LINUX_TEST_MS);

  it('a source that dies during post-copy is the guest\'s loss at the destination, reported, not a hang', async () => {
    const socket = join(workDir(), 'control');
    // 48 MiB of page cache written before the move, so that pushing RAM takes a while.
    const source = bootCounter(socket, 100_000, { append: 'vmm.dirty=48 vmm.interval=20000' });
    await reached(source, 40);
    const destination = await incoming();
    expect((await ctl(socket, 'migrate', `uri=${destination.uri}`, 'postcopy=true')).status).toBe(0);
    await destination.process.waitFor('the guest runs here', 'stderr', 60_000);
    source.kill('SIGKILL');
    await sleep(100);
    const ended = await destination.process.end();
    expect(ended.stderr, ended.stderr).not.toMatch(/post-copy complete/);
    expect(ended.stderr, ended.stderr).toMatch(/vmm: the guest is lost: the post-copy source failed \(the source closed the link before every page had come\) when \d+ pages had come/);
    expect(ended.status).toBe(4);
  }, LINUX_TEST_MS);
});
