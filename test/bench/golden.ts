// Golden files: a test's output compared with a recorded file byte for byte. With UPDATE_GOLDEN=1
// in the environment the file is rewritten instead (review the diff before committing it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';

export function expectGolden(actual: string, path: string): void {
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`no golden file ${path}; UPDATE_GOLDEN=1 writes it`);
  expect(actual, `${path} differs; UPDATE_GOLDEN=1 rewrites it`).toBe(readFileSync(path, 'utf8'));
}
