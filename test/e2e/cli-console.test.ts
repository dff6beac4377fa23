// The interactive serial console: on a terminal, raw mode for the run (keys reach the guest as
// typed, Ctrl-C included) with QEMU's escape key, Ctrl-A; the terminal's modes come back after.
// The terminal is a pseudo-terminal made by script(1) from util-linux.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleEscape } from '../../src/cli/console-escape.js';
import { VMM } from './run-vmm.js';
import { terminalSession } from './terminal-session.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-cli-console-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Feeds the parser each chunk and lists what came out, in order. */
function escape(...chunks: (string | number[])[]): string[] {
  const events: string[] = [];
  const parser = new ConsoleEscape({
    toGuest: (bytes) => events.push(`guest ${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')}`),
    quit: () => events.push('quit'),
    help: () => events.push('help'),
  });
  for (const chunk of chunks) parser.feed(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : Uint8Array.from(chunk));
  return events;
}

describe('the escape key', () => {
  it('passes everything else through, Ctrl-C included', () => {
    expect(escape('ab', [0x03], 'c')).toEqual(['guest 61 62', 'guest 03', 'guest 63']);
  });

  it('Ctrl-A x quits, and nothing typed after it reaches the guest', () => {
    expect(escape([0x61, 0x01, 0x78, 0x62], 'c')).toEqual(['guest 61', 'quit']);
  });

  it('Ctrl-A Ctrl-A sends one Ctrl-A', () => {
    expect(escape([0x61, 0x01, 0x01, 0x62])).toEqual(['guest 61', 'guest 01', 'guest 62']);
  });

  it('the command key may come in the next read', () => {
    expect(escape([0x61, 0x01], [0x01, 0x62])).toEqual(['guest 61', 'guest 01', 'guest 62']);
    expect(escape([0x01], 'x')).toEqual(['quit']);
  });

  it('Ctrl-A h prints the keys; other keys after Ctrl-A are ignored', () => {
    expect(escape([0x01, 0x68, 0x61, 0x01, 0x7a, 0x62])).toEqual(['help', 'guest 61', 'guest 62']);
  });
});

const haveScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!haveScript)('on a terminal', () => {
  // Prints "ready", then each byte it receives as <xx>; polled, with the FIFO and receive interrupt on.
  const source = `
bits 32
org 0x100000
  mov dx, 0x3fa
  mov al, 0x81
  out dx, al
  mov dx, 0x3f9
  mov al, 0x01
  out dx, al
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

  it('keys reach the guest as typed, Ctrl-A x quits with status 130, and the terminal is restored', async () => {
    const asm = join(dir, 'echo.asm');
    const image = join(dir, 'echo.bin');
    writeFileSync(asm, source);
    execFileSync('nasm', ['-f', 'bin', '-o', image, asm]);
    const vmm = `'${process.execPath}' '${VMM}' boot '${image}' --format flat --load-address 0x100000 --time-limit 60`;
    let output = '';
    const session = terminalSession(vmm, 'latin1');
    const { child, waitFor } = session;
    try {
      await waitFor('ready');
      child.stdin.write('a');
      await waitFor('<61>');
      child.stdin.write('\x03'); // Ctrl-C: a key for the guest, not SIGINT
      child.stdin.write('\x01\x01'); // Ctrl-A Ctrl-A: one Ctrl-A
      child.stdin.write('b\r');
      await waitFor('<0D>');
      child.stdin.write('\x01x');
      await waitFor('end');
    } finally {
      output = await session.finish();
    }
    const text = output.replace(/\r/g, '');
    expect(text).toContain('ready\n<61><03><01><62><0D>');
    // No echo from the terminal: only the guest's own output between its prompt and the quit.
    expect(text).not.toMatch(/ready\n[^<]*a/);
    expect(text).toMatch(/^vmm: the user quit \(Ctrl-A x\); the guest was running at 0008:001000[0-9a-f]{2}$/m);
    expect(text).toMatch(/^vmm: engine=direct time=\d+\.\d{3}s exits=\d+ /m);
    expect(text).toContain('vmm-status=130');
    expect(text).toMatch(/isig icanon echo end/);
  });
});
