// The virtual machine: guest RAM, one vCPU, the port and MMIO buses and the devices on them.
// It turns the native core's inline exits (port I/O, MMIO, CPUID) into bus accesses.
import type { LoadPlan } from '../boot/load-plan.js';
import { AcpiPm, ACPI_PM_PORT_COUNT, SLP_TYP_S5 } from '../devices/acpi-pm.js';
import type { Device, GuestMemory, StatefulPart } from '../devices/device.js';
import { ACPI_TABLES_BASE, buildAcpiTables, type AcpiPlatform } from '../firmware/acpi-tables.js';
import { acpiTableFiles } from '../firmware/acpi-table-loader.js';
import { buildMpTables, MP_TABLE_BASE } from '../firmware/mp-table.js';
import { FIRMWARE_CALL_PORT, leaveBiosState, SERVICE_STUB_PUSHED_BYTES } from '../firmware/bios-state.js';
import { FirmwareCallPort } from '../devices/firmware-call-port.js';
import { FirmwareFlash } from '../devices/firmware-flash.js';
import { FIRMWARE_LOG_PORT, FirmwareLog } from '../devices/firmware-log.js';
import { flashBase } from '../boot/firmware.js';
import type { BootDevice } from '../firmware/boot-order.js';
import { EBDA_START } from '../boot/multiboot.js';
import type { TimedDevice } from '../devices/clock.js';
import { DebugConsole } from '../devices/debug-console.js';
import { CmosRtc } from '../devices/cmos-rtc.js';
import { DebugExit } from '../devices/debug-exit.js';
import { I8042 } from '../devices/i8042.js';
import { PciHost } from '../devices/pci-host.js';
import type { PciConfigSpace } from '../devices/pci/pci-function.js';
import { Piix3IsaBridge } from '../devices/pci/piix3-isa-bridge.js';
import { DiskImage } from '../devices/ide/disk-image.js';
import type { DriveMedia } from '../devices/ide/ide-channel.js';
import { BUS_MASTER_BAR, BUS_MASTER_BAR_BYTES, IDETIM, IDETIM_DECODE_ENABLE, PiixIde } from '../devices/ide/piix-ide.js';
import { COMMAND_BLOCK_PORTS, CONTROL_BLOCK_PORTS } from '../devices/ide/ide-channel.js';
import { packageVersion } from '../util/package-version.js';
import { PicPair } from '../devices/pic8259.js';
import {
  PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_BYTES, PC_TESTDEV_IRQ_COUNT, PC_TESTDEV_IRQ_PORT, PC_TESTDEV_PORT, PC_TESTDEV_PORT_COUNT,
  PcTestdev, PcTestdevIrqLines, PcTestdevMemory,
} from '../devices/pc-testdev.js';
import { Pit8254 } from '../devices/pit8254.js';
import { Port80 } from '../devices/port80.js';
import { FwCfg } from '../devices/fw-cfg.js';
import { Hpet } from '../devices/hpet.js';
import { IO_APIC_VERSION, IoApic } from '../devices/io-apic.js';
import { IA32_APIC_BASE, IA32_TSC_DEADLINE, LOCAL_APIC_VERSION, LocalApic } from '../devices/local-apic.js';
import { SystemControlPort } from '../devices/system-control-port.js';
import { SystemControlPortA } from '../devices/system-control-port-a.js';
import { Uart16550 } from '../devices/uart16550.js';
import { VGA_BIOS_FILE } from '../devices/vga/pci-vga.js';
import { Vga, VGA_PORT_COUNT } from '../devices/vga/vga.js';
import { leaveVgaTextMode } from '../firmware/vga-text-mode.js';
import { applyLoadPlan } from './cpu-setup.js';
import { cpuid } from './cpuid.js';
import { performance } from 'node:perf_hooks';
import { absentMsrs, cpuModel, type CpuModel } from './cpu-model.js';
import { KvmParavirt } from '../paravirt/kvm/kvm-paravirt.js';
import { Field, InlineKind } from './exit-record.js';
import { Reg } from './registers.js';
import { EFLAGS_IF } from '../x86/eflags.js';
import { csEip } from '../util/hex.js';
import { BusConflict, IoBus, PortBus } from './io-bus.js';
import { HostClock } from './host-clock.js';
import { IRQ0_PIN, isaIrqPin, IsaInterrupts } from './isa-interrupts.js';
import * as layout from './layout.js';
import type { PlatformMsrs } from './engine.js';
import type { InterruptController } from './platform-interfaces.js';
import type { RunObserver } from './run-observer.js';
import { nativeCore, type EngineCoreKind, type NativeVcpu, type StopMechanism } from './native.js';

export interface MachineConfig {
  ramBytes: number;
  /** Where the serial port and the debug console print. */
  consoleOutput: (byte: number) => void;
  /** Size of the CPU's translated-code buffer in bytes (default: the engine's own). */
  translationBufferBytes?: number;
  /**
   * The engine core the vCPU is built with: 'trap' (a VMM region above guest RAM, shadow paging,
   * the world switch) or 'bt' (the same, with a translation cache). None for the direct engine.
   */
  engineCore?: EngineCoreKind;
  /** The bt engine's translation cache in bytes (default: all the hole has room for). */
  translationCacheBytes?: number;
  /** The shadow page-table pool of an engine core in bytes (default: all the VMM region has room for). */
  shadowPoolBytes?: number;
  /** How the running guest is stopped (see StopMechanism); exact by default. */
  stopMechanism?: StopMechanism;
  /** Optional devices (`--device`): 'pc-testdev', QEMU's device for KVM's unit tests. */
  devices?: readonly OptionalDevice[];
  /** The CPU the guest is told it runs on (`--cpu`); qemu32 by default. */
  cpuModel?: CpuModel;
  /** A paravirtual interface offered to the guest (`--pv`): KVM's, under any engine. */
  paravirt?: ParavirtInterface;
  /**
   * Boot through PC firmware (`--bios`): its flash image, mapped below 4 GiB and at 0xE0000, and
   * what it is told; the machine then builds no tables of its own (the firmware does).
   */
  firmware?: FirmwareConfig;
  /**
   * A VGA (`--vga std`): QEMU's standard VGA as PCI 00:02.0 with the legacy VGA ports, its text
   * screen read from RAM (devices/vga). Firmware boots have one; a guest loaded directly has it
   * when asked, and finds it in 80x25 text mode, as a VGA BIOS leaves it.
   */
  vga?: boolean;
  /**
   * The VGA BIOS (SeaVGABIOS's vgabios-stdvga.bin) offered to the firmware in fw_cfg as
   * `pci1234,1111.rom`, where SeaBIOS looks for the VGA function's option ROM. Only with `vga`.
   */
  vgaBios?: Uint8Array;
  /**
   * Disks (`--drive`). Given, even empty, the machine has the PIIX3's ISA bridge and IDE
   * controller at 00:01.0 and 00:01.1, as QEMU's pc; not given, it has no PIIX3 functions.
   */
  drives?: readonly DriveConfig[];
}

export interface FirmwareConfig {
  image: Uint8Array;
  /** Boot devices in order, told through the CMOS as QEMU does. */
  bootOrder: readonly BootDevice[];
  /** Each line of the firmware's debug log (port 0x402), for `--firmware-log`. */
  onLogLine?: (line: string) => void;
}

/** The places on the IDE controller: primary master and slave, secondary master and slave. */
export const IDE_DRIVE_INDEXES = 4;

/** A disk on the IDE controller. */
export interface DriveConfig {
  /** A raw image file; the disk is its whole 512-byte sectors. */
  path: string;
  /** 0 primary master, 1 primary slave, 2 secondary master, 3 secondary slave. */
  index: number;
  /** The drive refuses writes (they fail as on a write-protected drive). */
  readOnly: boolean;
}

/**
 * What a machine is built from, as far as its guest can tell: what a saved or migrated machine
 * carries so that the same PC is built again to receive its state.
 */
export interface MachineDescription {
  ramBytes: number;
  /** The CPU model the guest was given, as its spec (`max,-smap`). */
  cpuModel: string;
  devices: OptionalDevice[];
  paravirt?: ParavirtInterface;
  /** Present (true) when the machine has a VGA. */
  vga?: boolean;
  /** The disks, when the machine has the IDE controller; readOnly says how each was opened. */
  drives?: DriveConfig[];
}

/** Paravirtual interfaces a machine can offer its guest (`--pv`). */
export const PARAVIRT_INTERFACES = ['kvm'] as const;
export type ParavirtInterface = (typeof PARAVIRT_INTERFACES)[number];

/** Devices a machine has only when asked for. */
export const OPTIONAL_DEVICES = ['pc-testdev'] as const;
export type OptionalDevice = (typeof OPTIONAL_DEVICES)[number];

/** Why the machine asked the vCPU to stop, set by a device or a limit. */
export type StopCause =
  | { kind: 'debug-exit'; status: number; value: number }
  | { kind: 'reset'; by: string }
  /** The guest entered ACPI S5 (soft off). */
  | { kind: 'poweroff' }
  | { kind: 'trace-complete'; instructions: number }
  | { kind: 'exit-limit' }
  /** The host ended the run (a signal, the console's quit key, an output that broke). */
  | { kind: 'host-request' }
  /** Part of the guest's state could not be had (its memory, from a post-copy source that died). */
  | { kind: 'guest-lost'; reason: string }
  /** The firmware tried every boot device and found none it could boot ("No bootable device."). */
  | { kind: 'no-boot-device'; tried: string[] }
  /** The guest called a BIOS service, which a firmware-less boot does not provide. */
  | { kind: 'bios-call'; vector: number; caller: string };

export interface InlineCounters {
  portIn: number;
  portOut: number;
  mmioRead: number;
  mmioWrite: number;
  cpuid: number;
  /** Hypercalls (`--pv kvm`): VMCALL and VMMCALL answered by the VMM. */
  hypercall: number;
}

export class Machine {
  readonly vcpu: NativeVcpu;
  readonly ram: Uint8Array;
  readonly ports = new PortBus();
  readonly mmio = new IoBus('mmio');
  readonly clock = new HostClock();
  readonly pics: PicPair;
  readonly ioApic: IoApic;
  /** The CPU's local APIC: its interrupt input, with the 8259 pair behind LINT0. */
  readonly localApic: LocalApic;
  readonly interrupts: InterruptController;
  readonly isaInterrupts: IsaInterrupts;
  readonly hpet: Hpet;
  readonly pit: Pit8254;
  readonly rtc: CmosRtc;
  readonly uart: Uart16550;
  readonly debugConsole: DebugConsole;
  /** The 8042, with the PS/2 keyboard behind it that host keys are pressed on. */
  readonly keyboard: I8042;
  /** The VGA, when the machine has one (MachineConfig.vga). */
  readonly vga: Vga | undefined;
  /** The i440FX host bridge and PCI configuration mechanism: what PCI functions plug into. */
  readonly pciHost: PciHost;
  /** The PIIX3's IDE controller, on a machine with drives. */
  readonly ide: PiixIde | undefined;
  /** The drives' image files, closed with the machine. */
  private readonly images: DiskImage[];
  /** Devices mapped by a PCI BAR: their state is their function's, their place its configuration space's. */
  private readonly barDevices = new Set<Device>();
  /** Devices whose interrupts depend on time alone. */
  readonly timedDevices: TimedDevice[];
  /** For each timed device, whether its interrupt can reach the CPU now (to wake it from HLT). */
  private readonly timedDeviceWakes: Map<TimedDevice, () => boolean>;
  /** Watches the run (the tracer). */
  observer: RunObserver | undefined;
  /** Set when the serial port has a host input attached: a halted guest may still be woken. */
  mayReceiveInput = false;
  /** Set when the host's keyboard is attached to the PS/2 keyboard (`--display curses`). */
  mayReceiveKeys = false;
  readonly counters: InlineCounters = { portIn: 0, portOut: 0, mmioRead: 0, mmioWrite: 0, cpuid: 0, hypercall: 0 };
  /** KVM's paravirtual interface, when the guest is offered it (`--pv kvm`). */
  readonly kvm: KvmParavirt | undefined;
  stopCause: StopCause | undefined;
  /** Block discovery (see NativeVcpu.setBlockDiscovery): a block runs for the first time; the
   * run loop hands it to the engine. */
  onNewBlock: ((linear: number, size: number) => void) | undefined;
  /** Inline exits allowed before the machine stops itself (the `--max-exits` limit). */
  inlineExitBudget = Infinity;
  private readonly record: Uint32Array;
  private readonly tscHz: number;
  /** The CPU the guest is told it runs on. */
  readonly cpuModel: CpuModel;

  private readonly consoleOutput: (byte: number) => void;
  readonly description: MachineDescription;

  constructor(config: MachineConfig) {
    const { Vcpu, hostTscHz } = nativeCore();
    this.consoleOutput = config.consoleOutput;
    this.tscHz = hostTscHz();
    this.cpuModel = config.cpuModel ?? cpuModel('qemu32');
    const problem = config.drives && drivesProblem(config.drives);
    if (problem) throw new RangeError(problem);
    this.images = openImages(config.drives ?? []);
    const drives = config.drives?.map((drive, i) => ({ path: drive.path, index: drive.index, readOnly: this.images[i].readOnly }));
    this.description = {
      ramBytes: config.ramBytes, cpuModel: this.cpuModel.spec, devices: [...(config.devices ?? [])],
      ...(config.paravirt ? { paravirt: config.paravirt } : {}),
      ...(config.vga ? { vga: true } : {}),
      ...(drives ? { drives } : {}),
    };
    if (config.vgaBios && !config.vga) throw new Error('a VGA BIOS was given for a machine without a VGA');
    try {
      this.vcpu = new Vcpu(
        config.ramBytes, config.translationBufferBytes, config.engineCore ?? false, config.stopMechanism ?? 'exact', undefined,
        config.translationCacheBytes, config.shadowPoolBytes, this.cpuModel.emulatedAs,
      );
    } catch (error) {
      for (const image of this.images) image.close();
      throw error;
    }
    this.ram = new Uint8Array(this.vcpu.ram);
    this.record = new Uint32Array(this.vcpu.exitRecord);
    // The CPU the guest is told about refuses other CR4 bits, under direct too.
    this.vcpu.setCr4SupportedBits(this.cpuModel.cr4Bits);
    this.vcpu.setAbsentMsrs(absentMsrs(this.cpuModel));
    // A request that may be deliverable asks the vCPU for an interrupt-window exit: the guest
    // stops as soon as it can take the interrupt, and is left alone while IF = 0.
    // A request raised by the guest's own I/O while interrupts are enabled (a self-IPI, a UART
    // interrupt), or an NMI whatever IF says, is taken at once, as the CPU would at its next
    // instruction boundary: the vCPU stops at the next block and the run loop delivers it.
    const requestWindow = () => {
      this.vcpu.setInterruptPending(true);
      if (!this.inInlineExit) return;
      if (this.localApic.hasNmi || (this.vcpu.readRegister(Reg.eflags) & EFLAGS_IF) !== 0) this.vcpu.requestStop();
    };
    this.pics = new PicPair((asserted) => {
      if (asserted) requestWindow();
    });
    this.localApic = new LocalApic(this.clock, {
      timerHz: this.tscHz > 0 ? this.tscHz : layout.APIC_TIMER_FALLBACK_HZ,
      tsc: this.tscHz > 0 ? { tsc: () => this.guestTsc(), hz: this.tscHz } : undefined,
      extInt: this.pics,
      onRequest: requestWindow,
      onLevelEoi: (vector) => this.ioApic.endOfInterrupt(vector),
      onAccepted: (vector) => {
        for (const pin of this.ioApic.pinsDelivering(vector)) this.interruptTaken(pin);
      },
    });
    this.pics.onAcknowledged = (irq) => this.interruptTaken(isaIrqPin(irq));
    this.ioApic = new IoApic(this.localApic);
    if (config.paravirt === 'kvm') {
      const clock = this.clock;
      this.kvm = new KvmParavirt({
        ram: this.ram, localApic: this.localApic, tscHz: this.tscHz, tsc: () => this.guestTsc(),
        nowNs: () => clock.nowNs(),
        get pausedSeconds() { return clock.pausedSeconds; },
        realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)),
      });
      this.vcpu.setHypercalls(true);
    }
    this.interrupts = this.localApic;
    const isa = (this.isaInterrupts = new IsaInterrupts(this.pics, this.ioApic));
    this.pit = new Pit8254(this.clock, isa.pitIrq);
    this.uart = new Uart16550('com1', config.consoleOutput, isa.isaIrq(layout.COM1_IRQ));
    this.debugConsole = new DebugConsole(config.consoleOutput);
    const startTime = Date.now();
    const firmware = config.firmware;
    this.rtc = new CmosRtc(this.clock, isa.rtcIrq, { startTime, ramBytes: config.ramBytes, bootOrder: firmware?.bootOrder });
    this.hpet = new Hpet(this.clock, {
      gsi: (pin) => isa.gsi(pin),
      legacyIrq0: isa.hpetIrq0,
      legacyIrq8: isa.hpetIrq8,
      onLegacyReplacement: (on) => isa.setLegacyReplacement(on),
    });
    this.keyboard = new I8042(isa.isaIrq(layout.KEYBOARD_IRQ), isa.isaIrq(layout.AUX_IRQ), {
      onReset: () => this.stop({ kind: 'reset', by: 'the keyboard controller (command 0xFE)' }),
    });
    this.timedDevices = [this.pit, this.rtc, this.hpet, this.localApic];
    this.timedDeviceWakes = new Map<TimedDevice, () => boolean>([
      [this.pit, () => isa.legacyTimersConnected && this.irqMayInterrupt(layout.PIT_IRQ)],
      [this.rtc, () => isa.legacyTimersConnected && this.irqMayInterrupt(layout.RTC_IRQ)],
      [this.hpet, () => this.hpet.mayInterrupt],
      [this.localApic, () => this.localApic.timerMayInterrupt],
    ]);

    const ports = this.ports;
    ports.attach(layout.PIC_MASTER_PORT, layout.PIC_PORT_COUNT, this.pics.master);
    ports.attach(layout.PIC_SLAVE_PORT, layout.PIC_PORT_COUNT, this.pics.slave);
    ports.attach(layout.ELCR_PORT, layout.ELCR_PORT_COUNT, this.pics.elcr);
    ports.attach(layout.PIT_PORT, layout.PIT_PORT_COUNT, this.pit);
    ports.attach(layout.I8042_DATA_PORT, 1, this.keyboard);
    ports.attach(layout.SYSTEM_CONTROL_PORT_B, 1, new SystemControlPort(this.pit));
    ports.attach(layout.I8042_COMMAND_PORT, 1, this.keyboard.commandPort);
    ports.attach(layout.RTC_PORT, layout.RTC_PORT_COUNT, this.rtc);
    ports.attach(layout.POST_PORT, 1, new Port80());
    // Firmware builds the tables an OS reads; the machine's ACPI tables reach it as QEMU's do.
    const fwCfgFiles: [string, Uint8Array][] = [
      ...(firmware ? acpiTableFiles({ ...this.acpiPlatform, ps2Keyboard: true }) : []),
      ...(config.vgaBios ? [[VGA_BIOS_FILE, config.vgaBios] as [string, Uint8Array]] : []),
    ];
    ports.attach(layout.FW_CFG_PORT, layout.FW_CFG_PORT_COUNT, new FwCfg({ ramBytes: config.ramBytes, files: fwCfgFiles }));
    ports.attach(layout.ACPI_PM_PORT, ACPI_PM_PORT_COUNT, new AcpiPm(this.clock, (sleepType) => {
      if (sleepType === SLP_TYP_S5) this.stop({ kind: 'poweroff' });
    }));
    this.pciHost = new PciHost((hard) => {
      this.stop({ kind: 'reset', by: `the reset control register (port 0xcf9, ${hard ? 'hard' : 'soft'} reset)` });
    });
    ports.attach(layout.PCI_CONFIG_PORT, layout.PCI_CONFIG_PORT_COUNT, this.pciHost);
    this.vga = config.vga ? new Vga(this.ram) : undefined;
    if (this.vga) {
      ports.attach(layout.VGA_PORT, VGA_PORT_COUNT, this.vga);
      this.pciHost.plug(layout.VGA_PCI_SLOT, 0, this.vga.pci);
    }
    ports.attach(layout.SYSTEM_CONTROL_PORT_A, 1, new SystemControlPortA(() => this.stop({ kind: 'reset', by: 'port 0x92 (fast reset)' })));
    ports.attach(layout.COM1_PORT, layout.UART_PORT_COUNT, this.uart);
    ports.attach(layout.DEBUG_CONSOLE_PORT, 1, this.debugConsole);
    ports.attach(
      layout.DEBUG_EXIT_PORT,
      layout.DEBUG_EXIT_PORT_COUNT,
      new DebugExit((status, value) => this.stop({ kind: 'debug-exit', status, value })),
    );
    this.attachMmio(layout.LOCAL_APIC_BASE, layout.APIC_PAGE_BYTES, this.localApic);
    this.attachMmio(layout.IOAPIC_BASE, layout.APIC_PAGE_BYTES, this.ioApic);
    this.attachMmio(layout.HPET_BASE, layout.HPET_PAGE_BYTES, this.hpet);
    if (config.devices?.includes('pc-testdev')) {
      ports.attach(PC_TESTDEV_PORT, PC_TESTDEV_PORT_COUNT, new PcTestdev());
      ports.attach(PC_TESTDEV_IRQ_PORT, PC_TESTDEV_IRQ_COUNT, new PcTestdevIrqLines((irq) => isa.line(irq)));
      this.attachMmio(PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_BYTES, new PcTestdevMemory());
    }
    this.ide = drives && this.plugIde(drives, isa);
    ports.attach(FIRMWARE_CALL_PORT, 1, new FirmwareCallPort((vector) => {
      this.stop({ kind: 'bios-call', vector, caller: this.realModeInterruptCaller(SERVICE_STUB_PUSHED_BYTES) });
    }));
    this.vcpu.setInlineHandler((kind) => this.onInlineExit(kind));
    if (firmware) {
      this.attachFirmware(firmware);
      return;
    }
    // The ACPI tables, where a PC's firmware leaves them (the BIOS area, reserved in the memory map).
    this.ram.set(buildAcpiTables(this.acpiPlatform), ACPI_TABLES_BASE);
    // The MP tables, for guests without ACPI; the CPU they describe is the one CPUID describes.
    const leaf1 = cpuid(1, 0, { tscHz: this.tscHz, apic: true, tscDeadline: false, hypervisor: false }, this.cpuModel);
    this.ram.set(
      buildMpTables({
        localApic: layout.LOCAL_APIC_BASE, localApicVersion: LOCAL_APIC_VERSION & 0xff,
        ioApic: layout.IOAPIC_BASE, ioApicId: 0, ioApicVersion: IO_APIC_VERSION & 0xff,
        cpuSignature: leaf1.eax, cpuFeatures: leaf1.edx, sciIrq: layout.SCI_IRQ,
      }),
      MP_TABLE_BASE,
    );
    // The IVT, BIOS data area and 8259s as the BIOS leaves them for a boot loader.
    leaveBiosState(this.ram, {
      baseMemoryKiB: EBDA_START >> 10,
      ebdaSegment: EBDA_START >> 4,
      com1Port: layout.COM1_PORT,
      startTime,
      writePort: (port, value) => ports.write(port, 1, value),
    });
    // And the VGA as its BIOS leaves it: in 80x25 text mode.
    if (this.vga) {
      leaveVgaTextMode({
        writePort: (port, size, value) => ports.write(port, size, value),
        readPort: (port) => ports.read(port, 1),
        ram: this.ram, pciSlot: layout.VGA_PCI_SLOT,
      });
    }
  }

  /** What the ACPI tables describe: this PC's fixed devices. */
  private get acpiPlatform(): AcpiPlatform {
    return {
      localApic: layout.LOCAL_APIC_BASE, ioApic: layout.IOAPIC_BASE, hpet: layout.HPET_BASE, sciIrq: layout.SCI_IRQ,
      pmBase: layout.ACPI_PM_PORT, resetPort: layout.RESET_CONTROL_PORT, resetValue: layout.RESET_CONTROL_HARD_RESET,
      // Where PCI BARs may go: an ACPI kernel claims a BAR only inside the root bridge's windows.
      pciWindows: { memoryBase: this.ram.length, memoryEnd: layout.IOAPIC_BASE - 1 },
    };
  }

  /** Whether the machine started at the firmware's reset vector (`--bios`). */
  get bootsThroughFirmware(): boolean {
    return this.firmwareFlash !== undefined;
  }

  private firmwareFlash: FirmwareFlash | undefined;

  /** Boot devices the firmware said it tried, in order ("Booting from Hard Disk..."). */
  readonly bootAttempts: string[] = [];

  /**
   * The flash below 4 GiB (the copy below 1 MiB comes with the load plan) and the firmware's
   * debug log, which says when it tried a device and when it gave up: the run then ends, where
   * SeaBIOS would wait and reboot to try again.
   */
  private attachFirmware(firmware: FirmwareConfig): void {
    this.firmwareFlash = new FirmwareFlash(firmware.image);
    this.attachMmio(flashBase(firmware.image.length), firmware.image.length, this.firmwareFlash);
    this.ports.attach(FIRMWARE_LOG_PORT, 1, new FirmwareLog((line) => {
      firmware.onLogLine?.(line);
      const attempt = /^Booting from (.+?)\.\.\.$/.exec(line);
      if (attempt) this.bootAttempts.push(attempt[1]);
      else if (line.startsWith('No bootable device.')) this.stop({ kind: 'no-boot-device', tried: [...this.bootAttempts] });
    }));
  }

  /**
   * The PIIX3's ISA bridge and IDE controller on the PCI bus, the controller's legacy ports on
   * the port bus, and its bus master registers wherever its BAR 4 says.
   */
  private plugIde(drives: readonly DriveConfig[], isa: IsaInterrupts): PiixIde {
    const version = packageVersion();
    const places: (DriveMedia | undefined)[] = new Array(IDE_DRIVE_INDEXES).fill(undefined);
    drives.forEach((drive, i) => {
      // Serial numbers by place, as QEMU's QM0000n.
      places[drive.index] = { image: this.images[i], identity: { model: 'VMM HARDDISK', serial: `VM0000${drive.index + 1}`, firmware: version } };
    });
    const memory: GuestMemory = {
      range: (address, length) => (address + length <= this.ram.length ? this.ram.subarray(address, address + length) : undefined),
      written: (address, length) => this.deviceWroteRam(address, length),
    };
    const ide = new PiixIde(places, {
      primaryIrq: isa.isaIrq(layout.IDE_PRIMARY_IRQ), secondaryIrq: isa.isaIrq(layout.IDE_SECONDARY_IRQ), memory,
    });
    this.pciHost.plug(layout.PIIX3_PCI_SLOT, layout.PIIX3_ISA_FUNCTION, new Piix3IsaBridge());
    this.pciHost.plug(layout.PIIX3_PCI_SLOT, layout.PIIX3_IDE_FUNCTION, ide);
    this.ports.attach(layout.IDE_PRIMARY_PORT, COMMAND_BLOCK_PORTS, ide.primary);
    this.ports.attach(layout.IDE_PRIMARY_CONTROL_PORT, CONTROL_BLOCK_PORTS, ide.primary.controlBlock);
    this.ports.attach(layout.IDE_SECONDARY_PORT, COMMAND_BLOCK_PORTS, ide.secondary);
    this.ports.attach(layout.IDE_SECONDARY_CONTROL_PORT, CONTROL_BLOCK_PORTS, ide.secondary.controlBlock);
    this.followIoBar(ide.config, BUS_MASTER_BAR, BUS_MASTER_BAR_BYTES, ide.busMasterPorts);
    // Both channels' decode enabled, as the firmware leaves them (SeaBIOS's piix_ide_setup):
    // Linux's ata_piix ignores a channel whose enable bit is clear.
    for (const register of IDETIM) ide.config.put16(register, IDETIM_DECODE_ENABLE);
    return ide;
  }

  /**
   * Keeps `device` on the port bus where I/O BAR `bar` of `config` decodes, after every
   * configuration write (and restore). A BAR placed over ports another device has decodes
   * nothing here: on a real bus both would answer, which no guest relies on.
   */
  private followIoBar(config: PciConfigSpace, bar: number, bytes: number, device: Device): void {
    this.barDevices.add(device);
    let mapped: number | undefined;
    config.onWrite = () => {
      const base = config.barBase(bar);
      if (base === mapped) return;
      if (mapped !== undefined) this.ports.detach(device);
      mapped = undefined;
      if (base === undefined) return;
      try {
        this.ports.attach(base, bytes, device);
        mapped = base;
      } catch (error) {
        if (!(error instanceof BusConflict)) throw error;
      }
    };
  }

  /**
   * CS:IP of the instruction after the INT n that entered a real-mode handler (its interrupt
   * frame, SDM Vol. 3 §20.1.4), when the handler has pushed `pushed` bytes since.
   */
  private realModeInterruptCaller(pushed: number): string {
    const ss = this.vcpu.readRegister(Reg.ss);
    const frame = ss * 16 + ((this.vcpu.readRegister(Reg.esp) + pushed) & 0xffff);
    if (frame + 4 > this.ram.length) return 'an unknown caller';
    const ip = this.ram[frame] | (this.ram[frame + 1] << 8);
    const cs = this.ram[frame + 2] | (this.ram[frame + 3] << 8);
    return csEip(cs, ip);
  }

  /**
   * MSRs of the platform's devices: the engines that emulate RDMSR and WRMSR ask here first, and
   * under `direct` the vCPU does (an inline exit from the CPU's RDMSR/WRMSR).
   */
  readonly platformMsrs: PlatformMsrs = {
    read: (index) => {
      if (index === IA32_APIC_BASE) return this.localApic.readBaseMsr();
      if (index === IA32_TSC_DEADLINE && this.localApic.offersTscDeadline) return this.localApic.readDeadlineMsr();
      return this.kvm?.readMsr(index);
    },
    write: (index, value) => {
      if (index === IA32_APIC_BASE) this.localApic.writeBaseMsr(value);
      else if (index === IA32_TSC_DEADLINE && this.localApic.offersTscDeadline) this.localApic.writeDeadlineMsr(value);
      else return this.kvm?.writeMsr(index, value) ?? false;
      return true;
    },
  };

  /** A device's page of MMIO: the vCPU sends its accesses here instead of the open bus. */
  private attachMmio(base: number, length: number, device: Device): void {
    this.mmio.attach(base, length, device);
    this.vcpu.mapMmio(base, length);
  }

  /**
   * Whether ISA IRQ `irq` can interrupt the CPU now: through the 8259s (unmasked there, and the
   * local APIC passes them on LINT0) or through its unmasked I/O APIC pin.
   */
  /**
   * The CPU took an interrupt requested on I/O APIC pin `pin` (or on that ISA IRQ's 8259 input):
   * the timer driving it raises a tick it owes, if any (src/devices/missed-ticks.ts).
   */
  private interruptTaken(pin: number): void {
    if (pin === IRQ0_PIN && this.isaInterrupts.legacyTimersConnected) this.pit.interruptTaken();
    this.hpet.interruptTaken(pin);
  }

  irqMayInterrupt(irq: number): boolean {
    return (this.localApic.passesExtInt() && this.pics.unmasked(irq)) || this.ioApic.unmasked(isaIrqPin(irq));
  }

  /** The console's sink, for output that does not come through a device (a paravirtual console). */
  writeConsole(bytes: Uint8Array): void {
    for (const byte of bytes) this.consoleOutput(byte);
  }

  /** The loaded kernel's ELF notes (the paravirt engine reads its hypercall page there). */
  kernelNotes: readonly { name: string; type: number; desc: Uint8Array }[] = [];

  load(plan: LoadPlan): void {
    applyLoadPlan(this.vcpu, this.ram, plan);
    this.kernelNotes = plan.notes ?? [];
  }

  stop(cause: StopCause): void {
    if (this.stopCause) return; // the first cause wins; the vCPU may run a few more instructions
    this.stopCause = cause;
    this.vcpu.requestStop();
  }

  /**
   * Every part with state of its own, by its stable id: the devices on the buses and the board's
   * interrupt wiring. A machine's snapshot is theirs, taken and given back by id.
   */
  stateParts(): Map<string, StatefulPart> {
    const parts = new Map<string, StatefulPart>();
    for (const part of [...this.ports.devices(), ...this.mmio.devices(), this.isaInterrupts]) {
      if (this.barDevices.has(part as Device)) continue;
      const known = parts.get(part.name);
      if (known && known !== part) throw new Error(`two devices are named '${part.name}'`);
      parts.set(part.name, part);
    }
    return parts;
  }

  /** What the guest's RDTSC adds to the host's TSC (0 until a restore or a pause moves it). */
  private tscOffset = 0n;

  /** The guest's TSC now. */
  guestTsc(): bigint {
    return nativeCore().hostTsc() + this.tscOffset;
  }

  /**
   * Moves the guest's TSC so that it reads `tsc` now: a restored machine's TSC goes on from its
   * saved value. False when this Unicorn build has no TSC offset (the TSC stays the host's).
   */
  setGuestTsc(tsc: bigint): boolean {
    if (this.vcpu.tscOffsetMissing !== '') return false;
    this.tscOffset = tsc - nativeCore().hostTsc();
    this.vcpu.setTscOffset(this.tscOffset);
    return true;
  }

  /** Lets every timed device raise what is due now. */
  updateTimers(): void {
    for (const device of this.timedDevices) device.update();
    this.kvm?.update(this.clock.nowNs());
  }

  /** Nanoseconds until the earliest timer event, or undefined if no timer is armed. */
  nanosUntilNextEvent(): number | undefined {
    let next: number | undefined;
    for (const device of this.timedDevices) {
      const at = device.nextEventNs();
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next === undefined ? undefined : Math.max(0, next - this.clock.nowNs());
  }

  /**
   * Time until a timer can wake a halted CPU: only timers whose IRQ the interrupt controllers
   * let through count (a masked PIT keeps counting but never interrupts).
   */
  nanosUntilNextWakeup(): number | undefined {
    let next: number | undefined;
    for (const [device, mayInterrupt] of this.timedDeviceWakes) {
      if (!mayInterrupt()) continue;
      const at = device.nextEventNs();
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next === undefined ? undefined : Math.max(0, next - this.clock.nowNs());
  }

  /** Whether host input could wake a halted CPU: serial input with COM1's IRQ, keys with the keyboard's, unmasked. */
  get inputMayInterrupt(): boolean {
    return (
      (this.mayReceiveInput && this.irqMayInterrupt(layout.COM1_IRQ)) ||
      (this.mayReceiveKeys && this.irqMayInterrupt(layout.KEYBOARD_IRQ))
    );
  }

  /** The time slice for the next run(): at most `max`, ending at the next timer event. */
  microsUntilNextEvent(max: number): number {
    const ns = this.nanosUntilNextEvent();
    // At least 20 µs: a slice of 0 would mean "no slice" to the native core.
    return ns === undefined ? max : Math.max(20, Math.min(max, Math.ceil(ns / 1000)));
  }

  get inlineExits(): number {
    const c = this.counters;
    return c.portIn + c.portOut + c.mmioRead + c.mmioWrite + c.cpuid + c.hypercall;
  }

  /** Guest-physical ranges [start, end) devices wrote since the guest last ran: code there may be stale. */
  private readonly rangesWrittenByDevices: [number, number][] = [];

  /**
   * A device (a DMA engine) wrote guest RAM. Host writes bypass the CPU's self-modifying-code
   * tracking, so translations of what was there must go: by physical address
   * (`vcpu.invalidatePhysical`; Unicorn's own invalidateCode takes linear addresses and walks the
   * guest's page tables, a walk that faults and overwrites CR2 where the guest maps nothing),
   * between runs, never inside the translated block whose I/O started the transfer: the vCPU
   * stops at its next block, and the run loop calls settleDeviceWrites().
   */
  private deviceWroteRam(address: number, length: number): void {
    const last = this.rangesWrittenByDevices.at(-1);
    // A transfer's regions usually follow one another: one range for them all.
    if (last && last[1] === address) last[1] = address + length;
    else this.rangesWrittenByDevices.push([address, address + length]);
    if (this.inInlineExit) this.vcpu.requestStop();
  }

  /** Before the guest runs on: drops the translations a device's writes to RAM made stale. */
  settleDeviceWrites(): void {
    for (const [start, end] of this.rangesWrittenByDevices) this.vcpu.invalidatePhysical(start, end);
    this.rangesWrittenByDevices.length = 0;
  }

  /** Set while a device handles one of the running guest's accesses. */
  private inInlineExit = false;

  private onInlineExit(kind: number): void {
    this.inInlineExit = true;
    try {
      this.dispatchInlineExit(kind);
    } finally {
      this.inInlineExit = false;
    }
  }

  private dispatchInlineExit(kind: number): void {
    const r = this.record;
    if (kind === InlineKind.traceFull) {
      this.observer?.onTraceBufferFull();
      return;
    }
    if (kind === InlineKind.newBlock) {
      this.onNewBlock?.(r[Field.address], r[Field.size]);
      return;
    }
    if (this.stopCause) return; // stopping: the rest of the translated block must not touch devices
    if (--this.inlineExitBudget < 0) {
      this.stop({ kind: 'exit-limit' });
      return;
    }
    this.handleInlineExit(kind, r);
    this.observer?.onInlineExit(kind);
  }

  private handleInlineExit(kind: number, r: Uint32Array): void {
    switch (kind) {
      case InlineKind.portIn:
        this.counters.portIn++;
        r[Field.value] = this.ports.read(r[Field.address], r[Field.size]);
        return;
      case InlineKind.portOut:
        this.counters.portOut++;
        this.ports.write(r[Field.address], r[Field.size], r[Field.value]);
        return;
      case InlineKind.mmioRead:
        this.counters.mmioRead++;
        r[Field.value] = this.mmio.read(r[Field.address], r[Field.size]);
        return;
      case InlineKind.mmioWrite:
        this.counters.mmioWrite++;
        this.mmio.write(r[Field.address], r[Field.size], r[Field.value]);
        return;
      case InlineKind.cpuid: {
        this.counters.cpuid++;
        const leaf = r[Field.cpuidLeaf];
        const result =
          this.kvm?.cpuid(leaf) ??
          cpuid(leaf, r[Field.cpuidSubleaf], { tscHz: this.tscHz, apic: this.localApic.globallyEnabled, tscDeadline: this.localApic.offersTscDeadline, hypervisor: this.kvm !== undefined }, this.cpuModel);
        r[Field.cpuidEax] = result.eax;
        r[Field.cpuidEbx] = result.ebx;
        r[Field.cpuidEcx] = result.ecx;
        r[Field.cpuidEdx] = result.edx;
        return;
      }
      case InlineKind.msrRead: {
        const value = this.platformMsrs.read(r[Field.msrIndex]);
        r[Field.msrClaimed] = value === undefined ? 0 : 1;
        if (value !== undefined) {
          r[Field.msrLow] = Number(value & 0xffffffffn);
          r[Field.msrHigh] = Number(value >> 32n);
        }
        return;
      }
      case InlineKind.msrWrite:
        r[Field.msrClaimed] = this.platformMsrs.write(r[Field.msrIndex], (BigInt(r[Field.msrHigh]) << 32n) | BigInt(r[Field.msrLow])) ? 1 : 0;
        return;
      case InlineKind.hypercall:
        // (The vCPU asks only while hypercalls are on, which only the KVM interface turns on.)
        this.counters.hypercall++;
        r[Field.hypercallResult] = this.kvm!.hypercall(r[Field.hypercallNr], r[Field.hypercallFromUser] !== 0);
        return;
      default:
        throw new Error(`native core sent an unknown inline exit ${kind}`);
    }
  }

  close(): void {
    this.vcpu.close();
    for (const image of this.images) image.close();
  }
}

/** Why `drives` cannot be built (not a drive, an index off the controller or taken twice), or undefined. */
export function drivesProblem(drives: readonly DriveConfig[]): string | undefined {
  const seen = new Set<number>();
  for (const drive of drives) {
    const { path, index, readOnly } = (drive ?? {}) as Partial<DriveConfig>;
    if (typeof path !== 'string' || typeof readOnly !== 'boolean' || !Number.isInteger(index)) return `${JSON.stringify(drive)} is not a drive`;
    if (index! < 0 || index! >= IDE_DRIVE_INDEXES) return `drive index ${index} is not a place on the IDE controller`;
    if (seen.has(index!)) return `two drives have index ${index}`;
    seen.add(index!);
  }
  return undefined;
}

/** Opens every drive's image, or none: a failure closes those already open. */
function openImages(drives: readonly DriveConfig[]): DiskImage[] {
  const images: DiskImage[] = [];
  try {
    for (const drive of drives) images.push(DiskImage.open(drive.path, drive.readOnly));
  } catch (error) {
    for (const image of images) image.close();
    throw error;
  }
  return images;
}
