// A test worker whose main thread stays blocked (a native call that never returns, a synchronous
// wait on a child that never ends) cannot time its test out: vitest's timers run on that thread.
// A watchdog thread sees the main thread's heartbeat stop, names the test it was in, and ends
// the worker, which vitest reports as a failure of that file instead of waiting for ever.
import { Worker } from 'node:worker_threads';
import { beforeEach, expect } from 'vitest';

/** Longer than any synchronous wait a test makes on purpose (a vmm run is given at most 120 s). */
const BLOCKED_LIMIT_SECONDS = 300;
const NAME_BYTES = 1024;

// [0]: the main thread's last heartbeat (seconds since the epoch); then the current test's name.
const shared = new SharedArrayBuffer(8 + NAME_BYTES);
const heartbeat = new Float64Array(shared, 0, 1);
const name = new Uint8Array(shared, 8, NAME_BYTES);

const beat = (): void => {
  heartbeat[0] = Date.now() / 1000;
};
beat();
setInterval(beat, 1000).unref();

beforeEach(() => {
  beat();
  const encoded = new TextEncoder().encode(expect.getState().currentTestName ?? '').subarray(0, NAME_BYTES - 1);
  name.fill(0);
  name.set(encoded);
});

// First the worker's own child processes are killed (a synchronous wait on one then returns and
// its test fails as usual); if the main thread is still blocked a while later, the worker itself.
const watchdog = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  const { readdirSync, readFileSync, writeSync } = require('node:fs');
  const heartbeat = new Float64Array(workerData.shared, 0, 1);
  const name = new Uint8Array(workerData.shared, 8, workerData.nameBytes);
  const children = () =>
    readdirSync('/proc').filter((entry) => /^\\d+$/.test(entry)).filter((pid) => {
      try {
        const stat = readFileSync('/proc/' + pid + '/stat', 'latin1');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch { return false; }
    }).map(Number);
  let childrenKilledAt = 0;
  setInterval(() => {
    const blocked = Date.now() / 1000 - heartbeat[0];
    if (blocked < workerData.limit) { childrenKilledAt = 0; return; }
    const end = name.indexOf(0);
    const test = new TextDecoder().decode(name.slice(0, end < 0 ? name.length : end));
    // Straight to the file descriptor: a worker's process.stderr goes through the blocked thread.
    const say = (what) => writeSync(2, 'test worker blocked for ' + Math.round(blocked) + ' s in "' + test + '": ' + what + '\\n');
    if (childrenKilledAt === 0) {
      const pids = children();
      say('killing its child processes ' + (pids.join(' ') || '(none)'));
      for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch {}
      childrenKilledAt = blocked;
    } else if (blocked > childrenKilledAt + 30) {
      say('ending the worker');
      process.kill(process.pid, 'SIGKILL');
    }
  }, 5000);
  `,
  { eval: true, workerData: { shared, nameBytes: NAME_BYTES, limit: BLOCKED_LIMIT_SECONDS } },
);
watchdog.unref();
