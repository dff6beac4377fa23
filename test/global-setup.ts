import { execFileSync } from 'node:child_process';

// End-to-end tests run the built CLI: type-check and bundle it from the sources under test.
export default function buildOnce(): void {
  execFileSync('bash', ['scripts/build-cli.sh'], { stdio: 'inherit' });
}
