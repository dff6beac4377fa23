// vmm run on a pseudo-terminal (util-linux's `script`), as a user at a terminal runs it: the test
// types keys, waits for text, and finds after vmm's exit its status and whether the terminal's
// modes came back (isig, icanon and echo on again).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { sleep } from './cli-process.js';
import { ROOT } from './run-vmm.js';

export interface TerminalSession {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Everything the terminal showed so far. */
  output(): string;
  /** Waits (20 s at most) until the terminal has shown `text`. */
  waitFor(text: string): Promise<void>;
  /** Ends the input, waits for the end (SIGKILL after 5 s), and returns what was shown. */
  finish(): Promise<string>;
}

/** Runs `command` (a shell command line) on a terminal, then prints `vmm-status=N`, the modes and `end`. */
export function terminalSession(command: string, encoding: BufferEncoding): TerminalSession {
  const modes = `stty -a | tr -s ' ;' '\\n\\n' | grep -E '^-?(isig|icanon|echo)$' | tr '\\n' ' '`;
  const shell = `${command}; echo "vmm-status=$?"; ${modes}; echo end`;
  const child = spawn('script', ['-qefc', shell, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString(encoding)));
  child.stderr.on('data', (d: Buffer) => (output += d.toString(encoding)));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    output: () => output,
    async waitFor(text: string) {
      const deadline = Date.now() + 20_000;
      while (!output.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no '${text}' in:\n${output}`);
        await sleep(20);
      }
    },
    async finish() {
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      await closed;
      return output;
    },
  };
}
