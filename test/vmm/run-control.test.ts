// The Paused state's handshake between the host and the run loop.
import { describe, expect, it } from 'vitest';
import { RunControl, RunEnded } from '../../src/vmm/run-control.js';

describe('RunControl', () => {
  it('a pause resolves once the loop holds, asks the guest to stop, and resume lets the loop go on', async () => {
    const control = new RunControl();
    let stops = 0;
    const statuses: string[] = [];
    control.stopGuest = () => stops++;
    control.onStatus = (s) => statuses.push(s);
    const paused = control.pause();
    expect(stops).toBe(1);
    expect(control.wantsPause).toBe(true);
    const held = control.holdPaused();
    await paused;
    expect(control.status).toBe('paused');
    control.resume();
    expect(await held).toBeUndefined();
    expect(control.status).toBe('running');
    expect(control.wantsPause).toBe(false);
    expect(statuses).toEqual(['paused', 'running']);
  });

  it('end() ends a paused run with its message; a pause after the run is refused', async () => {
    const control = new RunControl();
    const paused = control.pause();
    const held = control.holdPaused();
    await paused;
    control.end('moved elsewhere', true);
    expect(await held).toEqual({ message: 'moved elsewhere', lost: true });
    control.runEnded();
    await expect(control.pause()).rejects.toBeInstanceOf(RunEnded);
  });

  it('a pause asked for when the run ends is refused, not left waiting', async () => {
    const control = new RunControl();
    const paused = control.pause();
    control.runEnded();
    await expect(paused).rejects.toBeInstanceOf(RunEnded);
  });
});
