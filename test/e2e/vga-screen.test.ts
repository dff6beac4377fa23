// The VGA's screen from the host's side: `--screen-dump` writes what a guest put in the text
// buffer (under every engine that runs unmodified guests), the control socket's screendump
// writes it while the guest runs, and `--display curses` shows it in a terminal (a
// pseudo-terminal made by script(1)) and sends the keys typed there to the guest's PS/2 keyboard.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { sleep, VmmProcess } from './cli-process.js';
import { ctl } from './machine-state-guest.js';
import { guestPath, ROOT, runVmm, VMM } from './run-vmm.js';
import { terminalSession } from './terminal-session.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-vga-screen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The screen vgatext leaves: 25 rows, "VGA TEXT OK" at row 12, column 34, nothing else. */
const VGATEXT_SCREEN = Array.from({ length: 25 }, (_, row) => (row === 12 ? `${' '.repeat(34)}VGA TEXT OK\n` : '\n')).join('');

describe.each(unmodifiedGuestEngines)('--screen-dump under %s', (engine) => {
  it('holds the text the guest wrote at 0xB8000, row by row, trailing spaces trimmed', () => {
    const file = join(dir, `screen-${engine}.txt`);
    const run = runVmm(['boot', guestPath('vgatext.bin'), '--engine', engine, '--no-stdin', '--time-limit', '30', '--screen-dump', file]);
    expect(run.stderr).toMatch(new RegExp(`engine=${engine} `));
    expect(run.stdout).toBe('vgatext: cursor at 0x03ed\n');
    expect(run.status).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(VGATEXT_SCREEN);
  });
});

describe('which machines have a VGA', () => {
  it('a guest loaded directly has none unless asked; --vga std gives it one in text mode', () => {
    const plain = runVmm(['boot', guestPath('vgatext.bin'), '--no-stdin']);
    expect(plain.stdout).toBe('vgatext: no VGA\n');
    expect(plain.status).toBe(1);
    const withVga = runVmm(['boot', guestPath('vgatext.bin'), '--no-stdin', '--vga', 'std']);
    expect(withVga.stdout).toBe('vgatext: cursor at 0x03ed\n');
    expect(withVga.status).toBe(1);
  });
});

// A flat 32-bit guest: "ready" on the screen's first row, then every byte the keyboard
// controller gives it as <xx> on the second row; it exits (value 0) once Escape is released.
const KEY_ECHO = `
bits 32
org 0x100000
  mov edi, 0xb8000
  mov esi, ready
  mov ah, 0x07
show:
  lodsb
  test al, al
  jz keys
  stosw
  jmp show
keys:
  mov edi, 0xb8000 + 160
poll:
  in al, 0x64
  test al, 1
  jz poll
  in al, 0x60
  mov bl, al
  mov al, '<'
  stosw
  mov al, bl
  shr al, 4
  call digit
  mov al, bl
  and al, 0x0f
  call digit
  mov al, '>'
  stosw
  cmp bl, 0x81
  jne poll
  mov al, 0
  out 0xf4, al
  hlt
digit:
  add al, '0'
  cmp al, '9'
  jbe .out
  add al, 7
.out:
  stosw
  ret
ready: db 'ready', 0
`;

function keyEchoGuest(): string {
  const asm = join(dir, 'keyecho.asm');
  const image = join(dir, 'keyecho.bin');
  writeFileSync(asm, KEY_ECHO);
  execFileSync('nasm', ['-f', 'bin', '-o', image, asm]);
  return image;
}

describe('the control socket', () => {
  it('screendump writes the screen of the running guest; a machine without a VGA refuses it', async () => {
    const socket = join(dir, 'control');
    const image = keyEchoGuest();
    const guest = new VmmProcess(['boot', image, '--format', 'flat', '--load-address', '0x100000', '--no-stdin', '--vga', 'std', '--control', socket], {}, 60_000);
    try {
      let answer = await ctl(socket, 'query-status');
      for (let tries = 0; answer.status !== 0 && tries < 100; tries++) {
        await sleep(100);
        answer = await ctl(socket, 'query-status');
      }
      const file = join(dir, 'screendump.txt');
      const dumped = await ctl(socket, 'screendump', `filename=${file}`);
      expect(dumped.status, dumped.error).toBe(0);
      expect(dumped.value).toEqual({ mode: 'text' });
      expect(readFileSync(file, 'utf8')).toBe('ready\n' + '\n'.repeat(24));
      const unwritable = await ctl(socket, 'screendump', `filename=${join(dir, 'no-such-dir', 'x')}`);
      expect(unwritable.status).toBe(1);
      expect(unwritable.error).toMatch(/cannot write '.*no-such-dir\/x': ENOENT \(no such file or directory\)/);
    } finally {
      await ctl(socket, 'quit');
      await guest.end();
    }
    const plainSocket = join(dir, 'control-plain');
    const plain = new VmmProcess(['boot', image, '--format', 'flat', '--load-address', '0x100000', '--no-stdin', '--control', plainSocket], {}, 60_000);
    try {
      let refused = await ctl(plainSocket, 'screendump', `filename=${join(dir, 'none.txt')}`);
      for (let tries = 0; /cannot reach/.test(refused.error) && tries < 100; tries++) {
        await sleep(100);
        refused = await ctl(plainSocket, 'screendump', `filename=${join(dir, 'none.txt')}`);
      }
      expect(refused.status).toBe(1);
      expect(refused.error).toMatch(/this machine has no VGA \(boot it with --vga std\)/);
    } finally {
      await ctl(plainSocket, 'quit');
      await plain.end();
    }
  });
});

describe('a saved machine', () => {
  it('has its VGA again when restored: the screen it showed comes back', async () => {
    const image = keyEchoGuest();
    const socket = join(dir, 'control-saved');
    const file = join(dir, 'vga.snap');
    const source = new VmmProcess(['boot', image, '--format', 'flat', '--load-address', '0x100000', '--no-stdin', '--vga', 'std', '--control', socket], {}, 60_000);
    try {
      let saved = await ctl(socket, 'snapshot', `file=${file}`);
      for (let tries = 0; /cannot reach/.test(saved.error) && tries < 100; tries++) {
        await sleep(100);
        saved = await ctl(socket, 'snapshot', `file=${file}`);
      }
      expect(saved.status, saved.error).toBe(0);
    } finally {
      await ctl(socket, 'quit');
      await source.end();
    }
    const restoredSocket = join(dir, 'control-restored');
    const restored = new VmmProcess(['restore', file, '--no-stdin', '--control', restoredSocket], {}, 60_000);
    try {
      await restored.waitFor('the guest runs under', 'stderr');
      const dump = join(dir, 'restored-screen.txt');
      let answer = await ctl(restoredSocket, 'screendump', `filename=${dump}`);
      for (let tries = 0; /cannot reach/.test(answer.error) && tries < 100; tries++) {
        await sleep(100);
        answer = await ctl(restoredSocket, 'screendump', `filename=${dump}`);
      }
      expect(answer.status, answer.error).toBe(0);
      expect(readFileSync(dump, 'utf8')).toBe('ready\n' + '\n'.repeat(24));
    } finally {
      await ctl(restoredSocket, 'quit');
      await restored.end();
    }
  });
});

const haveScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!haveScript)('--display curses on a terminal', () => {
  it('shows the screen, sends typed keys to the PS/2 keyboard as scan codes, and gives the terminal back', async () => {
    const image = keyEchoGuest();
    const dump = join(dir, 'curses-screen.txt');
    const vmm = `'${process.execPath}' '${VMM}' boot '${image}' --format flat --load-address 0x100000 --time-limit 60 --display curses --screen-dump '${dump}'`;
    let output = '';
    const session = terminalSession(vmm, 'utf8');
    const { child, waitFor } = session;
    try {
      await waitFor('ready');
      child.stdin.write('a');
      await waitFor('<9E>');
      child.stdin.write('A');
      await waitFor('<AA>');
      child.stdin.write('\x1b[A'); // the up arrow
      await waitFor('<C8>');
      child.stdin.write('\x01h'); // the escape key's help, below the screen
      await waitFor('Ctrl-A x: quit');
      child.stdin.write('\x1b'); // Escape: the guest exits
      await waitFor('end');
    } finally {
      output = await session.finish();
    }
    // The alternate screen for the run, and the frames drawn there: the guest's text, white on black.
    expect(output).toContain('\x1b[?1049h');
    expect(output).toMatch(/\x1b\[0;37;40mready/);
    const left = output.indexOf('\x1b[?1049l');
    expect(left).toBeGreaterThan(output.lastIndexOf('ready'));
    const text = output.slice(left + '\x1b[?1049l'.length).replace(/\r/g, '');
    expect(text).toMatch(/^vmm: guest exited through the debug-exit port with value 0x0 \(status 1\)$/m);
    expect(text).toContain('vmm-status=1');
    expect(text).toMatch(/isig icanon echo end/);
    // a, A (with Shift), up (extended), Escape: set 1 codes as the 8042 translates them.
    expect(readFileSync(dump, 'utf8').split('\n').slice(0, 2)).toEqual(['ready', '<1E><9E><2A><1E><9E><AA><E0><48><E0><C8><01><81>']);
  });

  it('serial output stays out of the terminal, and goes to --serial\'s file when given', async () => {
    const serial = join(dir, 'serial.txt');
    const run = (extra: string) => {
      const vmm = `'${process.execPath}' '${VMM}' boot '${guestPath('vgatext.bin')}' --no-stdin --display curses ${extra}`;
      return spawnSync('script', ['-qefc', vmm, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, input: '' });
    };
    const discarded = run('');
    expect(discarded.stdout).toContain('\x1b[?1049h');
    expect(discarded.stdout).not.toContain('vgatext: cursor');
    expect(discarded.stdout).toMatch(/guest exited through the debug-exit port with value 0x0 \(status 1\)/);
    const kept = run(`--serial '${serial}'`);
    expect(kept.stdout).not.toContain('vgatext: cursor');
    expect(readFileSync(serial, 'utf8')).toBe('vgatext: cursor at 0x03ed\n');
  });
});
