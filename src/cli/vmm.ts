#!/usr/bin/env node
// The `vmm` command line.
import { DEFAULT_BIOS } from './firmware-options.js';
import { Command, CommanderError, Option } from 'commander';
import { engineNames } from '../engines/index.js';
import { CPU_MODEL_NAMES } from '../vmm/cpu-model.js';
import { packageVersion } from '../util/package-version.js';
import { benchCommand, type BenchOptions } from './bench-command.js';
import { bootCommand, bootDefaults, type BootOptions } from './boot-command.js';
import { registerSoakCommand } from './soak-command.js';
import { restoreCommand, type RestoreOptions } from './restore-command.js';
import { ctlCommand } from './ctl-command.js';
import { traceCommand, type TraceOptions } from './trace-command.js';
import { UserError, USAGE_ERROR_STATUS } from './user-error.js';

function addBootOptions(command: Command): Command {
  return command
    .option('-m, --memory <size>', 'guest RAM in MiB (or with a G suffix)', bootDefaults.memory)
    .option('-e, --engine <name>', `virtualisation engine: ${engineNames.join(', ')}`, bootDefaults.engine)
    .option('-a, --append <cmdline>', 'kernel command line (multiboot, Linux)', bootDefaults.append)
    .option('--kernel <file>', 'a Linux bzImage or other image (the same as the image argument)')
    .option('--initrd <file>', "initial ramdisk for a Linux kernel; for a multiboot kernel, its modules: 'file args,file2 args' (QEMU's -initrd)")
    .option('--serial <file>', 'write the serial console to a file instead of the terminal')
    .option('--time-limit <seconds>', 'end the run after this much wall-clock time')
    .option('--max-exits <count>', 'end the run after this many VM exits')
    .addOption(new Option('--format <format>', 'image format').choices(['auto', 'flat', 'bootsector', 'multiboot', 'linux']).default('auto'))
    .option('--load-address <address>', 'flat images: where to load the image')
    .option('--entry <address>', 'flat images: entry point (default: the load address)')
    .option('--bits <16|32>', 'flat images: start in 16-bit real mode or 32-bit protected mode', '32')
    .option('--no-stdin', 'do not feed standard input to the serial port')
    .option('--cpu <model>', `${CPU_MODEL_NAMES.join(', ')}: the CPU the guest is told it runs on (max adds RDTSCP, SMEP and SMAP; host, those of them this host's CPU has), with features taken away by masks: max,-smap,-smep`, bootDefaults.cpu)
    .option('--pv <interface>', "offer the guest a hypervisor's paravirtual interface: kvm (kvmclock, steal time, PV EOI, hypercalls), which Linux finds and uses on its own")
    .option('--device <name>', 'add an optional device: pc-testdev (QEMU\'s, for KVM\'s unit tests); repeatable', (value: string, previous: string[] = []) => [...previous, value])
    .option('--bios', 'boot through PC firmware from the disks (the image argument is then the first hard disk), instead of loading a kernel; disks given without a kernel do the same')
    .option('--firmware <file>', `the firmware's image for --bios (default: SeaBIOS, ${DEFAULT_BIOS})`)
    .option('--boot <order>', 'firmware boot order, QEMU\'s letters: order=cad (c hard disk, a floppy, d CD-ROM, n network; the default cad)')
    .option('--firmware-log <file>', "write the firmware's debug log (SeaBIOS's port 0x402) to a file")
    .option('--drive <spec>', "a disk on the IDE controller, as QEMU's -drive: file=PATH[,format=raw][,readonly=on][,if=ide][,index=0-3][,media=disk]; repeatable (index 0 primary master, 1 primary slave, 2 secondary master, 3 secondary slave; drives without an index take the free places in order)", (value: string, previous: string[] = []) => [...previous, value])
    .option('-hda, --hda <file>', 'a raw disk image as primary master (QEMU\'s -hda; -hdb, -hdc, -hdd for the other places)')
    .option('-hdb, --hdb <file>', 'a raw disk image as primary slave')
    .option('-hdc, --hdc <file>', 'a raw disk image as secondary master')
    .option('-hdd, --hdd <file>', 'a raw disk image as secondary slave')
    .option('--no-reboot', 'end the run when the guest resets the machine, instead of booting it again')
    .option('--translation-cache <KiB>', 'bt: size of the translation cache, flushed when full (default and most 3968)')
    .option('--shadow-pool <KiB>', 'trap, bt: size of the shadow page-table pool, emptied when full (64 to 16256, the default)')
    .option('--control <path>', 'a control socket at PATH: line-delimited JSON commands (query-status, stop, cont, snapshot, migrate, migrate-status, query-counters, screendump, quit); see `vmm ctl`')
    .option('--stop-mechanism <name>', 'exact (stops without a per-block hook, where proven on this Unicorn build and the timer thread may run at real-time priority), or block-hook', bootDefaults.stopMechanism);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('vmm')
    .description('A hypervisor for real x86 guests: boot, trace and compare virtualisation techniques')
    .version(packageVersion(), '-V, --version', 'print the version of vmm and exit')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'vmm: error: ')) });
  let status = 0;
  addBootOptions(
    program
      .command('boot')
      .argument('[image]', 'guest image (boot sector, multiboot kernel, flat binary); default: the sample multiboot guest')
      .description('boot a guest and run it until it halts, exits or hits a limit'),
  )
    .option('--gdb <address>', 'listen for a GDB remote debugger on tcp:HOST:PORT (loopback unless a host is named; port 0 picks a free one)')
    .option('-s', 'shorthand for --gdb tcp::1234, as in QEMU')
    .option('-S, --gdb-wait', 'do not start the guest until the debugger continues it, as QEMU\'s -S')
    .option('--vga <type>', "std: QEMU's standard VGA (PCI 00:02.0, 1234:1111), left in 80x25 text mode; none: no VGA (the default, unless --display curses or --screen-dump asks for the screen)")
    .option('--display <type>', "none (the default) or curses: the VGA's text screen in this terminal (standard output), typed keys to the guest's PS/2 keyboard, Ctrl-A x to quit; the serial console then goes to --serial's file, or nowhere")
    .option('--screen-dump <file>', "when the run ends, write the VGA's text screen to FILE as plain text (one line per row, trailing spaces trimmed)")
    .action(async (image: string | undefined, options: BootOptions) => {
    status = await bootCommand(image, options);
  });
  addBootOptions(
    program
      .command('trace')
      .argument('[image]', 'guest image, as for boot')
      .description('boot a guest and record every executed instruction, with the VMM events in line'),
  )
    .option('-f, --trace-format <format>', 'text, jsonl, tenet, drcov or chrome', 'text')
    .option('-o, --output <file>', 'write the trace to a file (default: standard output)')
    .option('--mem', 'record each memory read and write', false)
    .option('--range <ranges>', 'only addresses in START-END or START+LENGTH (comma-separated)')
    .option('--cpl <level>', 'only user (3), kernel (0) or a privilege level 0-3')
    .option('--skip <n>', 'skip the first N recorded instructions')
    .option('--count <n>', 'stop after recording N instructions')
    .option('--start-at <address>', 'start recording at the first execution of this address')
    .option('--match <pattern>', 'only instructions whose mnemonic starts with PATTERN, or that match /REGEX/')
    .action(async (image: string | undefined, options: TraceOptions) => {
      status = await traceCommand(image, options);
    });
  program
    .command('bench')
    .argument(
      '[suite]',
      'foundation: compute guest and port-I/O cost; boot: Linux boot time under qemu and each vmm engine and stop mechanism; trap: costs of the trap engine (hidden page fault, trapped instruction) against direct; compare: every engine on nanobenchmarks of each sensitive operation and on Linux workloads, with Markdown, JSON and HTML reports; migrate: live migration (pre-copy, post-copy) and snapshots of a 128 MiB Linux guest; disk: SeaBIOS booting a boot sector and Linux from an IDE disk',
      'foundation',
    )
    .description('measure vmm against qemu-system-i386, or one engine against another, in the same invocation')
    .option('--runs <n>', 'runs of each measurement (the median is reported; default 5, trap and compare: 3, compare --quick: 1)')
    .option('--iterations <n>', 'iterations of the compute guest', '200000000')
    .option('--port-writes <n>', 'OUTs performed by the port-I/O guest', '1000000')
    .option('--pages <n>', 'trap: pages the trapbench guest touches (16 MiB: larger regions mostly time the host\'s own paging)', '4096')
    .option('--pairs <n>', 'trap: CLI/STI pairs the trapbench guest executes', '100000')
    .option('--engines <list>', 'boot: comma-separated vmm configurations from direct (exact stops), direct-block-hook, trap, bt (exact stops), and direct-pv, trap-pv, bt-pv (with --pv kvm); default: all. disk: engines (default direct,trap)')
    .option('--quick', 'compare: one run with smaller Linux workloads (about a minute)')
    .option('--output <dir>', 'compare: folder for compare.md, compare.json and compare.html', 'vmm-bench-compare')
    .option('--from <file>', 'compare: re-render the reports of a recorded compare.json instead of running')
    .option('--no-qemu', 'compare: leave out the qemu-system-i386 column of the Linux workloads')
    .action(async (suite: string, options: BenchOptions) => {
      status = await benchCommand(suite, options);
    });
  program
    .command('restore')
    .argument('[file]', 'a snapshot file (written by the snapshot command of the control socket)')
    .description('run a saved machine on from where it stood, or receive a live migration (--incoming); restoring one file several times makes independent clones')
    .option('--incoming <address>', 'wait for a live migration on tcp:HOST:PORT (loopback unless a host is named) and run the guest it brings')
    .option('-e, --engine <name>', `engine to run under (default: the one it was saved under): ${engineNames.join(', ')}`)
    .option('--serial <file>', 'write the serial console to a file instead of the terminal')
    .option('--time-limit <seconds>', 'end the run after this much wall-clock time')
    .option('--max-exits <count>', 'end the run after this many VM exits')
    .option('--no-stdin', 'do not feed standard input to the serial port')
    .option('--control <path>', 'a control socket at PATH, as for boot')
    .option('--cpu <model>', 'the CPU this host offers (default max): a guest given a feature it lacks is refused, as VMotion refuses a move; the guest keeps the model it was given')
    .option('--translation-cache <KiB>', 'bt: size of the translation cache')
    .option('--shadow-pool <KiB>', 'trap, bt: size of the shadow page-table pool')
    .option('--stop-mechanism <name>', 'exact or block-hook, as for boot', bootDefaults.stopMechanism)
    .action(async (file: string | undefined, options: RestoreOptions) => {
      status = await restoreCommand(file, options);
    });
  program
    .command('ctl')
    .argument('<socket>', "a running vmm's control socket (--control PATH)")
    .argument('<command>', 'query-status, stop, cont, snapshot file=F, migrate uri=tcp:HOST:PORT [downtime-limit=MS] [max-rounds=N] [on-no-convergence=abort], migrate-status, query-counters, screendump filename=F, quit')
    .argument('[arguments...]', 'NAME=VALUE arguments of the command')
    .description('send one command to a running vmm and print its answer as JSON')
    .action(async (socket: string, command: string, words: string[]) => {
      status = await ctlCommand(socket, command, words);
    });
  registerSoakCommand(program, (result) => {
    status = result;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; commander has already printed its one-line message.
      return error.exitCode === 0 ? 0 : USAGE_ERROR_STATUS;
    }
    throw error;
  }
  return status;
}

main(process.argv).then(
  (status) => process.exit(status),
  (error: unknown) => {
    if (error instanceof UserError) {
      process.stderr.write(`vmm: error: ${error.message}\n`);
      process.exit(USAGE_ERROR_STATUS);
    }
    // A bug in the VMM, not a user mistake: keep the stack so it can be reported.
    process.stderr.write(`vmm: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(70);
  },
);
