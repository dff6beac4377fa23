// Input given to the guest's serial port before the guest is listening is kept until it is:
// the UART holds host bytes back until the guest makes its receiver ready (the received-data
// interrupt, the FIFO, or a polling loop on LSR), and gives unread ones back to its queue when
// the guest clears the FIFO or resets the receiver, as Linux's 8250 driver does when it starts.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { ROOT, VMM } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-cli-serial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RBR = 0;
const IER = 1;
const FCR = 2;
const MCR = 4;
const LSR = 5;

function uart(): { uart: Uart16550; printed: number[] } {
  const printed: number[] = [];
  return { uart: new Uart16550('com1', (b) => printed.push(b)), printed };
}

/** Reads RBR while LSR says data is ready, as a polling guest would. */
function drain(u: Uart16550): string {
  let text = '';
  while (u.read(LSR, 1) & 1) text += String.fromCharCode(u.read(RBR, 1));
  return text;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe('the UART keeps host input until the guest listens', () => {
  it('input before the receiver is ready survives the start-up sequence of Linux 8250 driver', () => {
    const { uart: u } = uart();
    u.receive(bytes('early keys'));
    expect(u.read(LSR, 1) & 1).toBe(0); // not ready: nothing shown yet
    // serial8250_clear_fifos, then the blind reads of serial8250_clear_interrupts
    u.write(FCR, 1, 0x01);
    u.write(FCR, 1, 0x07);
    u.write(FCR, 1, 0x00);
    u.read(LSR, 1);
    expect(u.read(RBR, 1)).toBe(0);
    u.read(2, 1);
    u.read(6, 1);
    // set_termios: FIFO on, then the receive interrupt
    u.write(FCR, 1, 0x01);
    u.write(FCR, 1, 0x81);
    u.write(IER, 1, 0x05);
    expect(drain(u)).toBe('early keys');
    expect(u.pendingInput).toBe(0);
  });

  it('enabling the received-data interrupt makes the receiver ready', () => {
    const { uart: u } = uart();
    u.receive(bytes('ab'));
    u.write(IER, 1, 0x01);
    expect(drain(u)).toBe('ab');
  });

  it('a polled receiver (memtest86+: no interrupt, no FIFO) gets input once it polls LSR', () => {
    const { uart: u } = uart();
    u.read(LSR, 1);
    expect(u.read(RBR, 1)).toBe(0); // memtest86+'s blind read at start-up
    u.write(IER, 1, 0x00);
    u.receive(bytes('x'));
    expect(u.read(LSR, 1) & 1).toBe(0);
    expect(u.read(LSR, 1) & 1).toBe(1); // the second poll in a row
    expect(u.read(RBR, 1)).toBe(0x78);
  });

  it('a transmit loop (LSR, then THR) is not taken for a polled receiver', () => {
    const { uart: u, printed } = uart();
    u.receive(bytes('k'));
    for (const b of bytes('hi')) {
      expect(u.read(LSR, 1) & 0x21).toBe(0x20);
      u.write(RBR, 1, b);
    }
    expect(printed).toEqual([...bytes('hi')]);
    expect(u.pendingInput).toBe(1);
  });

  it('loopback self-test sees its own byte, and the typed input after it', () => {
    const { uart: u } = uart();
    u.write(FCR, 1, 0xc7); // FIFO on and cleared: ready
    u.receive(bytes('typed'));
    u.write(MCR, 1, 0x1e); // loopback: host bytes go back to the queue
    u.write(RBR, 1, 0xae);
    expect(u.read(RBR, 1)).toBe(0xae);
    u.write(MCR, 1, 0x0f);
    expect(drain(u)).toBe('typed');
  });

  it('a byte read is gone; a FIFO clear only gives back bytes not read', () => {
    const { uart: u } = uart();
    u.write(FCR, 1, 0x01);
    u.receive(bytes('abc'));
    expect(u.read(RBR, 1)).toBe(0x61);
    u.write(FCR, 1, 0x03);
    expect(drain(u)).toBe('bc');
  });
});

describe('piped input reaches a guest that sets its UART up late', () => {
  const source = (polled: boolean) => `
bits 32
org 0x100000
  mov ecx, 30000000         ; let the piped input arrive before the UART is set up
delay:
  dec ecx
  jnz delay
  mov dx, 0x3fa             ; Linux 8250 start-up: FIFO on, cleared, off
  mov al, 0x01
  out dx, al
  mov al, 0x07
  out dx, al
  mov al, 0x00
  out dx, al
  mov dx, 0x3fd             ; ... and blind reads of LSR, RBR, IIR, MSR
  in al, dx
  mov dx, 0x3f8
  in al, dx
  mov dx, 0x3fa
  in al, dx
  mov dx, 0x3fe
  in al, dx
%if ${polled ? 0 : 1}
  mov dx, 0x3fa             ; FIFO and received-data interrupt on (IF stays clear: polled anyway)
  mov al, 0x81
  out dx, al
  mov dx, 0x3f9
  mov al, 0x01
  out dx, al
%endif
  mov esi, ready
  mov dx, 0x3f8
print:
  lodsb
  test al, al
  jz poll
  out dx, al
  jmp print
poll:
  mov dx, 0x3fd
  in al, dx
  test al, 1
  jz poll
  mov dx, 0x3f8
  in al, dx
  cmp al, 'q'
  je done
  mov bl, al
  mov al, '<'
  out dx, al
  mov al, bl
  shr al, 4
  call digit
  mov al, bl
  and al, 0x0f
  call digit
  mov al, '>'
  out dx, al
  jmp poll
done:
  mov al, 10
  out dx, al
  mov dx, 0xf4
  mov al, 0
  out dx, al
  cli
  hlt
digit:
  add al, '0'
  cmp al, '9'
  jbe .out
  add al, 7
.out:
  out dx, al
  ret
ready: db 'ready', 10, 0
`;

  function build(name: string, polled: boolean): string {
    const asm = join(dir, `${name}.asm`);
    const bin = join(dir, `${name}.bin`);
    writeFileSync(asm, source(polled));
    execFileSync('nasm', ['-f', 'bin', '-o', bin, asm]);
    return bin;
  }

  for (const polled of [false, true]) {
    it(polled ? 'a polled receiver' : 'an interrupt-driven receiver with a FIFO', async () => {
      const image = build(polled ? 'polled' : 'fifo', polled);
      const run = await runWithInput([image, '--format', 'flat', '--load-address', '0x100000', '--time-limit', '30'], 'hello\nq');
      expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
      expect(run.stdout).toBe('ready\n<68><65><6C><6C><6F><0A>\n');
      expect(run.status).toBe(1);
    });
  }
});

async function runWithInput(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [VMM, 'boot', ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
  child.stdin.end(input);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

const images = join(ROOT, 'guests', 'images');

describe.skipIf(!existsSync(join(images, 'vmlinuz')) || !existsSync(join(images, 'initrd.gz')))('Debian Linux', () => {
  it('runs the commands piped to it before its serial driver started, and powers off', async () => {
    const run = await runWithInput(
      ['--kernel', join(images, 'vmlinuz'), '--initrd', join(images, 'initrd.gz'), '-a', 'console=ttyS0 rdinit=/bin/sh quiet', '-m', '128', '--time-limit', '120'],
      'echo hi-from-$((6*7))\npoweroff -f\n',
    );
    expect(run.stdout).toContain('hi-from-42');
    expect(run.stderr).toMatch(/^vmm: guest powered off \(ACPI S5\)$/m);
    expect(run.status).toBe(0);
  }, 180_000);
});
