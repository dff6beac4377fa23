import { expect } from 'vitest';
import { LoadError, type LoadErrorCode } from '../../src/boot/load-plan.js';

/** Runs `fn` and checks it throws a LoadError with this code and exactly this one-line message. */
export function expectLoadError(fn: () => unknown, code: LoadErrorCode, message: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a LoadError').toBeInstanceOf(LoadError);
  const error = thrown as LoadError;
  expect({ code: error.code, message: error.message }).toEqual({ code, message });
  expect(error.message).not.toMatch(/\n/);
}
