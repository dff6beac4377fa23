// The guests a soak boots: each with its `vmm boot` arguments, its time limit, how often it runs
// relative to the others, and what a passing run prints.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { exactLines, lastLine, passLine, type Expectation } from './verdict.js';

export interface SoakGuest {
  name: string;
  /** One line for the soak's heading and --help. */
  summary: string;
  /** Share of the runs: a Linux boot costs as much as a dozen paging runs. */
  weight: number;
  /** Passed to vmm as --time-limit; generous, since the soak loads the machine on purpose. */
  timeLimitSeconds: number;
  /** Booted when --guests is not given. */
  byDefault: boolean;
  /** A paravirtual kernel: booted under the paravirtual engines only, which boot nothing else. */
  paravirtual?: boolean;
  /** The files the guest needs (built by scripts/setup.sh). */
  files(): string[];
  /** Arguments after `vmm boot`, without --engine and --time-limit. */
  bootArgs(): string[];
  expected: Expectation;
}

/** The Linux workload's size: a few hundred short-lived processes (see guests/initramfs/init). */
export const LINUX_FORKS = 300;

const root = () => projectRoot();
const image = (name: string) => join(root(), 'guests', 'images', name);
const built = (name: string) => join(root(), 'guests', 'build', name);

const linux: SoakGuest = {
  name: 'linux',
  summary: `Debian's Linux with the initramfs's forks workload (${LINUX_FORKS} iterations of subshells, pipes and execs)`,
  weight: 1,
  timeLimitSeconds: 600, // 35 s idle under direct, 110 s under trap; several times that on a busy host
  byDefault: true,
  files: () => [image('vmlinuz'), image('initrd.gz')],
  bootArgs: () => [
    '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'),
    // panic=-1 turns a panic into a reset, so a broken run ends at once (the panic line shows it).
    '--append', `console=ttyS0 quiet panic=-1 vmm.workload=forks vmm.forks=${LINUX_FORKS}`,
    '--memory', '128', '--no-stdin',
    // Without it the reset would boot the guest again, and a broken run would last its time limit.
    '--no-reboot',
  ],
  // poweroff -f powers off through ACPI S5: status 0.
  expected: { status: 0, checkConsole: passLine(`VMM-WORKLOAD-OK forks=${LINUX_FORKS}`) },
};

const paging: SoakGuest = {
  name: 'paging',
  summary: 'the demand-paging sample guest (page faults, A/D bits, CR3 switches, INVLPG)',
  weight: 5,
  timeLimitSeconds: 60,
  byDefault: true,
  files: () => [built('paging.elf')],
  bootArgs: () => [built('paging.elf'), '--memory', '64', '--no-stdin'],
  // The guest checks itself: every step that goes wrong prints FAILED and exits early, so the last
  // line says it all (its earlier lines grow as steps are added; guests/README.md lists them).
  // Exit value 0 is status 1.
  expected: { status: 1, checkConsole: lastLine('paging ok') },
};

const compute: SoakGuest = {
  name: 'compute',
  summary: 'the compute-bound sample guest (a fixed checksum after 200 million rounds)',
  weight: 2,
  timeLimitSeconds: 60,
  byDefault: false,
  files: () => [built('compute.elf')],
  bootArgs: () => [built('compute.elf'), '--memory', '64', '--no-stdin'],
  expected: { status: 1, checkConsole: exactLines(['checksum 0x634c43cd']) },
};

const linuxPv: SoakGuest = {
  ...linux,
  name: 'linux-pv',
  summary: `the linux guest on KVM's paravirtual interface (--pv kvm: kvm-clock, PV EOI, steal time)`,
  byDefault: false,
  bootArgs: () => [...linux.bootArgs(), '--pv', 'kvm'],
};

const kvmpv: SoakGuest = {
  name: 'kvmpv',
  summary: "the sample guest of KVM's paravirtual interface (hypercalls, kvmclock, PV EOI, steal time)",
  weight: 3,
  timeLimitSeconds: 60,
  byDefault: false,
  files: () => [built('kvmpv.elf')],
  bootArgs: () => [built('kvmpv.elf'), '--memory', '64', '--no-stdin', '--pv', 'kvm'],
  expected: { status: 1, checkConsole: lastLine('kvmpv ok') },
};

const pvkernel: SoakGuest = {
  name: 'pvkernel',
  summary: 'the paravirtual sample kernel (hypercalls, validated page tables, events), under the paravirtual engine',
  weight: 5,
  timeLimitSeconds: 60,
  byDefault: true,
  paravirtual: true,
  files: () => [built('pvkernel.elf')],
  bootArgs: () => [built('pvkernel.elf'), '--memory', '64', '--no-stdin'],
  expected: { status: 1, checkConsole: lastLine('pvkernel ok') },
};

export const soakGuests: readonly SoakGuest[] = [linux, linuxPv, paging, compute, kvmpv, pvkernel];

/** The first file a guest needs that is missing, as a path from the project root. */
export function missingFile(guest: SoakGuest): string | undefined {
  const missing = guest.files().find((file) => !existsSync(file));
  return missing === undefined ? undefined : relative(root(), missing);
}
