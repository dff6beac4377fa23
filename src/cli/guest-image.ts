// Finding and reading a guest image, with the errors a user can act on.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { UserError } from './user-error.js';

export const DEFAULT_GUEST = 'multiboot.elf';

export function defaultGuestPath(): string {
  return join(projectRoot(), 'guests', 'build', DEFAULT_GUEST);
}

export function readGuestImage(path: string, what = 'image'): Uint8Array {
  const full = resolve(path);
  let size: number;
  try {
    const stat = statSync(full);
    if (stat.isDirectory()) throw new UserError(`cannot read ${what} '${path}': it is a directory`);
    size = stat.size;
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`cannot read ${what} '${path}': no such file`);
    throw new UserError(`cannot read ${what} '${path}': ${code ?? String(error)}`);
  }
  if (size > 0x1_0000_0000) throw new UserError(`${what} '${path}' is ${size} bytes, larger than a 32-bit guest can load`);
  try {
    return new Uint8Array(readFileSync(full));
  } catch (error) {
    throw new UserError(`cannot read ${what} '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
