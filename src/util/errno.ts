// System errors as the user reads them: the code and what it means, "ENOSPC (no space left on device)".

export function describeErrno(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string') return String(error instanceof Error ? error.message : error);
  // Node's message is "ENOSPC: no space left on device, write": keep the meaning only.
  const meaning = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message ?? '')?.[1];
  return meaning ? `${e.code} (${meaning})` : e.code;
}
