// Boot benchmark: Debian's Linux kernel with the busybox initramfs, to the userspace marker,
// under qemu-system-i386 -kernel (TCG, the translator Unicorn embeds) and under vmm with each
// engine and stop mechanism, in the same invocation. QEMU's time includes its firmware (SeaBIOS
// and the linuxboot option ROM); vmm boots the kernel directly, as Firecracker does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import type { EngineName } from '../vmm/engine.js';
import { BenchError } from './bench-error.js';
import { linuxImages, vmmScript } from './bench-guest.js';
import { exactStopsFallback, stopsIn, summaryIn } from './summary-line.js';
import { median } from './stats.js';
import { timeToMarker } from './time-to-marker.js';

const MARKER = 'VMM-USERSPACE-READY';

/** One way of running vmm that the boot benchmark measures. */
export interface BootConfiguration {
  /** The name `--engines` takes. */
  name: string;
  engine: EngineName;
  stopMechanism: 'exact' | 'block-hook';
  /** `--pv kvm`: the guest on KVM's paravirtual interface (kvmclock, PV EOI, no port-0x80 delays). */
  paravirt?: 'kvm';
}

/** In the order each round runs them, after qemu. */
export const BOOT_CONFIGURATIONS: readonly BootConfiguration[] = [
  { name: 'direct', engine: 'direct', stopMechanism: 'exact' },
  { name: 'direct-block-hook', engine: 'direct', stopMechanism: 'block-hook' },
  { name: 'trap', engine: 'trap', stopMechanism: 'exact' },
  { name: 'bt', engine: 'bt', stopMechanism: 'exact' },
  { name: 'direct-pv', engine: 'direct', stopMechanism: 'exact', paravirt: 'kvm' },
  { name: 'trap-pv', engine: 'trap', stopMechanism: 'exact', paravirt: 'kvm' },
  { name: 'bt-pv', engine: 'bt', stopMechanism: 'exact', paravirt: 'kvm' },
];

/**
 * The configurations named in a comma-separated list, in BOOT_CONFIGURATIONS' order whatever the
 * list's, so that every invocation interleaves them alike; a name given twice is run once.
 */
export function pickBootConfigurations(list: string): BootConfiguration[] {
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new BenchError(`no engine configuration given to --engines; choose from ${configurationNames()}`);
  for (const name of names) {
    if (!BOOT_CONFIGURATIONS.some((c) => c.name === name)) {
      throw new BenchError(`unknown engine configuration '${name}' in --engines; choose from ${configurationNames()}`);
    }
  }
  return BOOT_CONFIGURATIONS.filter((c) => names.includes(c.name));
}

function configurationNames(): string {
  return BOOT_CONFIGURATIONS.map((c) => c.name).join(', ');
}

export interface BootBenchOptions {
  runs: number;
  configurations: readonly BootConfiguration[];
  log: (line: string) => void;
}

/** What the vmm runs of one configuration gave. */
interface ConfigurationRuns {
  configuration: BootConfiguration;
  label: string;
  times: number[];
  /** The `stops=` field of each run's summary line: the mechanism that really ran. */
  stops: string[];
  /** Why exact stops fell back to the block hook, when a run said so. */
  fallback?: string;
  /** The summary line of the last run (to poweroff), without its `vmm: ` prefix. */
  summary: string;
}

const QEMU_LABEL = 'qemu-system-i386 -kernel (TCG, with firmware)';

export async function bootBench({ runs, configurations, log }: BootBenchOptions): Promise<void> {
  const images = join(projectRoot(), 'guests', 'images');
  const { kernel, initrd } = linuxImages();
  const vmmArgs = (c: BootConfiguration) => [
    vmmScript(), 'boot', '--kernel', kernel, '--initrd', initrd,
    '-a', 'console=ttyS0 panic=-1', '-m', '128', '--no-stdin', '--no-reboot', '--time-limit', '300',
    '--engine', c.engine, '--stop-mechanism', c.stopMechanism, ...(c.paravirt ? ['--pv', c.paravirt] : []),
  ];
  const qemu = ['-M', 'pc', '-accel', 'tcg', '-m', '128', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1'];
  const qemuTimes: number[] = [];
  const results: ConfigurationRuns[] = configurations.map((configuration) => ({
    configuration,
    label: `vmm --engine ${configuration.engine} --stop-mechanism ${configuration.stopMechanism}${configuration.paravirt ? ` --pv ${configuration.paravirt}` : ''}`,
    times: [],
    stops: [],
    summary: '',
  }));
  log(`Linux boot to "${MARKER}": Debian ${kernelVersion(images)}, 128 MiB, ${runs} round${runs === 1 ? '' : 's'} of ${results.length + 1} boots, interleaved`);
  // Each round boots every configuration once, so that a change in the machine's load over the
  // invocation weighs on all of them alike rather than on whichever ran last.
  for (let i = 0; i < runs; i++) {
    try {
      qemuTimes.push((await timeToMarker('qemu-system-i386', qemu, MARKER, 300)).seconds);
      for (const result of results) {
        const run = await timeToMarker(process.execPath, vmmArgs(result.configuration), MARKER, 300);
        result.times.push(run.seconds);
        result.summary = summaryIn(run.stderr) ?? '(no summary line)';
        result.stops.push(stopsIn(run.stderr));
        result.fallback ??= exactStopsFallback(run.stderr);
      }
    } catch (error) {
      throw new BenchError((error as Error).message);
    }
  }

  const width = Math.max(QEMU_LABEL.length, ...results.map((r) => r.label.length)) + 1;
  const times = (samples: readonly number[]) => `median ${median(samples).toFixed(2)} s  [${samples.map((t) => t.toFixed(2)).join(' ')}]`;
  const q = median(qemuTimes);
  log(`  ${`${QEMU_LABEL}:`.padEnd(width)} ${times(qemuTimes)}`);
  for (const result of results) log(`  ${`${result.label}:`.padEnd(width)} ${times(result.times)}  ${stopsText(result)}`);
  log(`  ratio vmm/qemu: ${results.map((r) => `${r.configuration.name} ${(median(r.times) / q).toFixed(3)}`).join(', ')}`);
  const direct = results.find((r) => r.configuration.name === 'direct');
  for (const other of results.filter((r) => r.configuration.engine !== 'direct' && r.configuration.stopMechanism === 'exact' && !r.configuration.paravirt)) {
    if (!direct) break;
    // Both asked for exact stops; a ratio where either fell back is not that comparison.
    const name = other.configuration.name;
    const ran = [other, direct].map((r) => [...new Set(r.stops)].join('/'));
    const stops = ran.every((s) => s === 'exact') ? 'both exact' : `exact requested, ran ${name} ${ran[0]}, direct ${ran[1]}`;
    log(`  ratio ${name}/direct (${stops}): ${(median(other.times) / median(direct.times)).toFixed(3)}`);
  }
  // Each engine on KVM's interface against itself without it.
  for (const pv of results.filter((r) => r.configuration.paravirt)) {
    const plain = results.find((r) => r.configuration.engine === pv.configuration.engine && r.configuration.stopMechanism === pv.configuration.stopMechanism && !r.configuration.paravirt);
    if (plain) log(`  ratio ${pv.configuration.name}/${plain.configuration.name}: ${(median(pv.times) / median(plain.times)).toFixed(3)}`);
  }
  log('  exits of the last run of each (to poweroff):');
  const nameWidth = Math.max(...results.map((r) => r.configuration.name.length)) + 1;
  for (const result of results) log(`    ${`${result.configuration.name}:`.padEnd(nameWidth)} ${result.summary}`);
}

/**
 * The mechanism that ran, from the runs' summaries; said plainly when it is not the one asked
 * for, since a ratio measured with the block hook is not one of exact stops.
 */
function stopsText(result: ConfigurationRuns): string {
  const ran = [...new Set(result.stops)];
  const text = `stops=${ran.join('/')}`;
  const requested = result.configuration.stopMechanism;
  if (ran.length === 1 && ran[0] === requested) return text;
  const why = result.fallback === undefined ? '' : `: exact stops are not available here (${result.fallback})`;
  return `${text} (requested ${requested}${why})`;
}

function kernelVersion(images: string): string {
  try {
    const versions = readFileSync(join(images, 'VERSIONS'), 'utf8');
    return /vmlinuz (\S+ \S+)/.exec(versions)?.[1] ?? 'kernel';
  } catch {
    return 'kernel';
  }
}
