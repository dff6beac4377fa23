// Receives a machine-state stream (a snapshot file, an incoming migration): builds the machine
// the HELLO describes, writes pages into its RAM as they come, and keeps the STATE until END
// says the stream is whole. Nothing is given to the machine's devices and vCPU before then.
import type { Machine } from '../vmm/machine.js';
import { applyState, checkHello, decodeState, type MachineState, type StateHello } from './machine-state.js';
import { applyPages, RecordType, StateStreamError, type StateRecord } from './state-records.js';

export class StateReceiver {
  hello: StateHello | undefined;
  machine: Machine | undefined;
  private state: MachineState | undefined;
  ended = false;
  pagesReceived = 0;
  /** Where the rest of RAM comes from, when the stream ended in POSTCOPY. */
  postcopyPort: number | undefined;

  /** `build` makes the machine a HELLO describes (it may refuse, throwing a one-line error). */
  constructor(private readonly build: (hello: StateHello) => Machine) {}

  accept(record: StateRecord): void {
    if (this.ended) throw new StateStreamError('the machine state goes on after its end');
    switch (record.type) {
      case RecordType.hello: {
        if (this.hello) throw new StateStreamError('the machine state has two headers');
        let parsed: unknown;
        try {
          parsed = JSON.parse(record.payload.toString('utf8'));
        } catch {
          throw new StateStreamError('the machine state has no valid header');
        }
        this.hello = checkHello(parsed);
        this.machine = this.build(this.hello);
        // The saved machine's zero pages are not sent: this one's RAM must be zero where they go
        // (a new machine has written its firmware tables).
        this.machine.vcpu.clearRam();
        return;
      }
      case RecordType.pages:
        this.pagesReceived += applyPages(record.payload, this.started().ram);
        return;
      case RecordType.state:
        this.started();
        this.state = decodeState(record.payload);
        return;
      case RecordType.end:
      case RecordType.postcopy:
        this.started();
        if (!this.state) throw new StateStreamError('the machine state ends without the vCPU and devices');
        if (record.type === RecordType.postcopy) this.postcopyPort = postcopyPort(record.payload);
        this.ended = true;
        return;
    }
  }

  /** The machine with its whole state, once END has come. */
  finish(): Machine {
    if (!this.ended || !this.machine || !this.state) throw new StateStreamError('the machine state is cut short');
    applyState(this.machine, this.state);
    return this.machine;
  }

  private started(): Machine {
    if (!this.machine) throw new StateStreamError('the machine state does not start with its header');
    return this.machine;
  }
}

function postcopyPort(payload: Buffer): number {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new StateStreamError('the post-copy record is malformed');
  }
  const port = (value as { port?: unknown } | null)?.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) throw new StateStreamError('the post-copy record is malformed');
  return port;
}
