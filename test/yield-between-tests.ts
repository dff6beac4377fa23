// Most end-to-end tests wait for a `vmm` child synchronously. Between two tests the worker lets
// its event loop turn once, so that vitest's own messages (answered while a test was blocking)
// are read before their 60 s timeout: a file of many such tests on a busy host otherwise ends
// with "Timeout calling onTaskUpdate".
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
