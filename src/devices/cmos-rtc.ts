// Motorola MC146818A real-time clock and CMOS RAM at ports 0x70 (index; bit 7 disables NMI) and
// 0x71 (data), as on the IBM PC/AT (MC146818A datasheet; AT Technical Reference for the CMOS
// layout). The time is the injected wall-clock start plus elapsed guest time, computed when
// read; registers A-D, the periodic, alarm and update-ended interrupts on IRQ 8 are derived
// lazily from the same clock. The time is kept in UTC and DSE (daylight saving) is stored but
// ignored. Any divider setting DV=000-010 runs the 32.768 kHz time base; 11x holds it in reset.
import type { BootDevice } from '../firmware/boot-order.js';
import { fromBcd, toBcd } from './bcd.js';
import { readBytes, writeBytes } from './byte-io.js';
import { nsAtTick, ticksBetween, type Clock, type TimedDevice } from './clock.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type IrqLine } from './device.js';

const SNAPSHOT_VERSION = 1;

const SECONDS = 0x00;
const SECONDS_ALARM = 0x01;
const MINUTES = 0x02;
const MINUTES_ALARM = 0x03;
const HOURS = 0x04;
const HOURS_ALARM = 0x05;
const DAY_OF_WEEK = 0x06;
const DAY_OF_MONTH = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
/** IBM's century byte, in the same format (BCD or binary) as the other time registers. */
const CENTURY = 0x32;
const TIME_REGISTERS = [SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY];

const A_UIP = 0x80;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_BINARY = 0x04; // DM
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;
const D_VRT = 0x80;

const NS_PER_S = 1e9;
/** UIP rises 244 us before each update (datasheet, "Update Cycle"). */
const UIP_NS = 244_000;
/** After the divider leaves reset, the first update comes half a second later. */
const DIVIDER_RELEASE_NS = 500_000_000;
const DIVIDER_HZ = 32768;
const SECONDS_PER_DAY = 86400;
const MIB = 1024 * 1024;
const BOOT_DEVICE_CODES: Record<BootDevice, number> = { floppy: 1, disk: 2, cdrom: 3, network: 4 };

export interface CmosRtcOptions {
  /** Wall-clock time at the clock's current reading. */
  startTime: Date | number;
  /** Guest RAM size, for the memory size bytes a BIOS or Linux reads. */
  ramBytes: number;
  /** Boot devices in order for the firmware, as QEMU's `-boot order=` letters (boot-order.ts). */
  bootOrder?: readonly BootDevice[];
}

export class CmosRtc implements Device, TimedDevice {
  readonly name = 'cmos-rtc';
  private readonly cmos = new Uint8Array(128);
  private index = 0;
  private nmiMasked = false;
  /** The Unix second that began at guest time originNs; the divider rolls over each 1e9 ns after. */
  private baseSecond: number;
  private originNs: number;
  /** PF, AF and UF raised since the last read of register C, accounted up to flagsSyncedNs. */
  private flags = 0;
  private flagsSyncedNs: number;
  private irqLevel = false;

  constructor(
    private readonly clock: Clock,
    private readonly irq8: IrqLine,
    options: CmosRtcOptions,
  ) {
    const ms = typeof options.startTime === 'number' ? options.startTime : options.startTime.getTime();
    const now = clock.nowNs();
    this.baseSecond = Math.floor(ms / 1000);
    this.originNs = now - Math.round((ms - this.baseSecond * 1000) * 1e6);
    this.flagsSyncedNs = now;
    this.cmos[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate: a BIOS's setting
    this.cmos[REG_B] = B_24H; // BCD, 24-hour
    this.cmos[REG_D] = D_VRT;
    this.setMemorySize(options.ramBytes);
    if (options.bootOrder) this.setBootOrder(options.bootOrder);
  }

  /**
   * The boot order where QEMU's PC puts it for SeaBIOS (hw/i386/pc.c, set_boot_dev): the first
   * two devices in 0x3D, the third in 0x38's high nibble; bit 0 of 0x38 clear keeps the floppy
   * boot-signature check. Codes: 1 floppy, 2 hard disk, 3 CD-ROM, 4 network.
   */
  private setBootOrder(order: readonly BootDevice[]): void {
    const codes = order.map((device) => BOOT_DEVICE_CODES[device]);
    this.cmos[0x3d] = ((codes[1] ?? 0) << 4) | (codes[0] ?? 0);
    this.cmos[0x38] = (codes[2] ?? 0) << 4;
  }

  /** Bit 7 of the last index written: the NMI mask the VMM should honour. */
  get nmiDisabled(): boolean {
    return this.nmiMasked;
  }

  private setMemorySize(ramBytes: number): void {
    const put16 = (at: number, value: number) => {
      this.cmos[at] = value & 0xff;
      this.cmos[at + 1] = value >> 8;
    };
    const kib = Math.floor(ramBytes / 1024);
    const clamp = (v: number) => Math.max(0, Math.min(0xffff, v));
    put16(0x15, Math.min(640, kib)); // base memory, KiB
    put16(0x17, clamp(kib - 1024)); // extended memory above 1 MiB, KiB
    put16(0x30, clamp(kib - 1024)); // the same, as the POST measured it
    put16(0x34, clamp(Math.floor((ramBytes - 16 * MIB) / 65536))); // above 16 MiB, 64 KiB units
    // The AT's checksum over 0x10-0x2D, big-endian at 0x2E-0x2F, which a BIOS verifies.
    let sum = 0;
    for (let at = 0x10; at <= 0x2d; at++) sum += this.cmos[at];
    this.cmos[0x2e] = (sum >> 8) & 0xff;
    this.cmos[0x2f] = sum & 0xff;
  }

  // --- the time base --------------------------------------------------------------------------

  private get dividerRunning(): boolean {
    return ((this.cmos[REG_A] >> 4) & 7) <= 2;
  }

  /** SET or a divider in reset: no updates, the time registers hold what was written. */
  private get frozen(): boolean {
    return (this.cmos[REG_B] & B_SET) !== 0 || !this.dividerRunning;
  }

  private secondIndex(now: number): number {
    return ticksBetween(this.originNs, now, 1);
  }

  private periodicHz(): number {
    const rs = this.cmos[REG_A] & 0x0f;
    if (rs === 0 || !this.dividerRunning) return 0;
    // Datasheet, Table 5 for a 32.768 kHz time base: RS 1 and 2 repeat the rates of RS 8 and 9.
    const tap = rs <= 2 ? rs + 7 : rs;
    return DIVIDER_HZ / (1 << (tap - 1));
  }

  private updateInProgress(now: number): boolean {
    if (this.frozen) return false;
    const intoSecond = now - this.originNs - this.secondIndex(now) * NS_PER_S;
    return intoSecond >= NS_PER_S - UIP_NS;
  }

  // --- presenting the time (register B's DM and 24/12 bits) -----------------------------------

  private encode(value: number): number {
    return this.cmos[REG_B] & B_BINARY ? value : toBcd(value);
  }

  private decode(value: number): number {
    return this.cmos[REG_B] & B_BINARY ? value : fromBcd(value);
  }

  private encodeHour(hour: number): number {
    if (this.cmos[REG_B] & B_24H) return this.encode(hour);
    return this.encode(hour % 12 || 12) | (hour >= 12 ? 0x80 : 0);
  }

  private decodeHour(value: number): number {
    if (this.cmos[REG_B] & B_24H) return this.decode(value);
    return (this.decode(value & 0x7f) % 12) + (value & 0x80 ? 12 : 0);
  }

  private timeRegister(register: number, unixSecond: number): number {
    const t = new Date(unixSecond * 1000);
    switch (register) {
      case SECONDS:
        return this.encode(t.getUTCSeconds());
      case MINUTES:
        return this.encode(t.getUTCMinutes());
      case HOURS:
        return this.encodeHour(t.getUTCHours());
      case DAY_OF_WEEK:
        return this.encode(t.getUTCDay() + 1); // 1 = Sunday
      case DAY_OF_MONTH:
        return this.encode(t.getUTCDate());
      case MONTH:
        return this.encode(t.getUTCMonth() + 1);
      case YEAR:
        return this.encode(t.getUTCFullYear() % 100);
      default: // CENTURY
        return this.encode(Math.floor(t.getUTCFullYear() / 100));
    }
  }

  private currentSecond(now: number): number {
    return this.baseSecond + this.secondIndex(now);
  }

  /** Freeze: the registers take the running time, and from now on hold what is written. */
  private saveTimeToRegisters(second: number): void {
    for (const r of TIME_REGISTERS) this.cmos[r] = this.timeRegister(r, second);
  }

  /** Run from the registers' time; the divider's phase within the second is kept. */
  private loadTimeFromRegisters(now: number): void {
    const c = this.cmos;
    const t = new Date(0);
    const year = this.decode(c[CENTURY]) * 100 + this.decode(c[YEAR]);
    t.setUTCFullYear(year, this.decode(c[MONTH]) - 1, this.decode(c[DAY_OF_MONTH]));
    t.setUTCHours(this.decodeHour(c[HOURS]), this.decode(c[MINUTES]), this.decode(c[SECONDS]), 0);
    this.baseSecond = Math.floor(t.getTime() / 1000) - this.secondIndex(now);
  }

  // --- interrupts -----------------------------------------------------------------------------

  /** Alarm hour, minute and second; undefined entries are "don't care" codes (0xC0-0xFF). */
  private alarmPattern(): (number | undefined)[] | undefined {
    const field = (register: number, limit: number, hour: boolean) => {
      const raw = this.cmos[register];
      if ((raw & 0xc0) === 0xc0) return undefined;
      const value = hour ? this.decodeHour(raw) : this.decode(raw);
      return value < limit ? value : -1;
    };
    const pattern = [field(HOURS_ALARM, 24, true), field(MINUTES_ALARM, 60, false), field(SECONDS_ALARM, 60, false)];
    return pattern.includes(-1) ? undefined : pattern; // an impossible time never matches
  }

  /** The first Unix second after `after` whose time of day matches the alarm. */
  private nextAlarmSecond(after: number): number | undefined {
    const pattern = this.alarmPattern();
    if (!pattern) return undefined;
    const day = Math.floor(after / SECONDS_PER_DAY) * SECONDS_PER_DAY;
    const today = nextTimeOfDay(pattern, after - day + 1);
    if (today !== undefined) return day + today;
    return day + SECONDS_PER_DAY + nextTimeOfDay(pattern, 0)!;
  }

  /** Account the flags of every event in (flagsSyncedNs, now] under the current settings. */
  private syncFlags(now: number): void {
    const from = this.flagsSyncedNs;
    if (now <= from) return;
    const hz = this.periodicHz();
    if (hz && ticksBetween(this.originNs, now, hz) > ticksBetween(this.originNs, from, hz)) this.flags |= C_PF;
    if (!this.frozen) {
      const first = this.secondIndex(from);
      const last = this.secondIndex(now);
      if (last > first) {
        this.flags |= C_UF;
        const alarm = this.nextAlarmSecond(this.baseSecond + first);
        if (alarm !== undefined && alarm <= this.baseSecond + last) this.flags |= C_AF;
      }
    }
    this.flagsSyncedNs = now;
  }

  private get irqf(): boolean {
    const b = this.cmos[REG_B];
    const f = this.flags;
    return !!((f & C_PF && b & B_PIE) || (f & C_AF && b & B_AIE) || (f & C_UF && b & B_UIE));
  }

  private updateIrq(): void {
    const level = this.irqf;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq8.set(level);
    }
  }

  nextEventNs(): number | undefined {
    if (this.irqLevel) return undefined; // nothing changes the line until register C is read
    const from = this.flagsSyncedNs;
    const b = this.cmos[REG_B];
    const times: number[] = [];
    const hz = this.periodicHz();
    if (b & B_PIE && hz) times.push(nsAtTick(this.originNs, ticksBetween(this.originNs, from, hz) + 1, hz));
    if (!this.frozen) {
      const k = this.secondIndex(from);
      if (b & B_UIE) times.push(this.originNs + (k + 1) * NS_PER_S);
      const alarm = b & B_AIE ? this.nextAlarmSecond(this.baseSecond + k) : undefined;
      if (alarm !== undefined) times.push(this.originNs + (alarm - this.baseSecond) * NS_PER_S);
    }
    return times.length ? Math.min(...times) : undefined;
  }

  update(): void {
    this.syncFlags(this.clock.nowNs());
    this.updateIrq();
  }

  // --- ports ----------------------------------------------------------------------------------

  read(offset: number, size: number): number {
    // The index register is write-only on the AT.
    return readBytes(offset, size, 2, (o) => (o === 0 ? 0xff : this.readRegister(this.index)));
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 2, (o, v) => {
      if (o === 1) return this.writeRegister(this.index, v);
      this.index = v & 0x7f;
      this.nmiMasked = (v & 0x80) !== 0;
    });
  }

  private readRegister(register: number): number {
    const now = this.clock.nowNs();
    switch (register) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        if (this.frozen) return this.cmos[register];
        return this.timeRegister(register, this.currentSecond(now));
      case REG_A:
        return (this.cmos[REG_A] & 0x7f) | (this.updateInProgress(now) ? A_UIP : 0);
      case REG_C: {
        // Reading C clears every flag and so releases IRQ 8 (datasheet, "Register C").
        this.syncFlags(now);
        const value = this.flags | (this.irqf ? C_IRQF : 0);
        this.flags = 0;
        this.updateIrq();
        return value;
      }
      case REG_D:
        return D_VRT; // the battery is always good
      default:
        return this.cmos[register];
    }
  }

  private writeRegister(register: number, value: number): void {
    const now = this.clock.nowNs();
    this.syncFlags(now); // events up to now happen under the old settings
    switch (register) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        if (this.frozen) {
          this.cmos[register] = value;
        } else {
          // Without SET the update cycle carries on from whatever was written.
          this.saveTimeToRegisters(this.currentSecond(now));
          this.cmos[register] = value;
          this.loadTimeFromRegisters(now);
        }
        return;
      case REG_A:
      case REG_B: {
        const wasFrozen = this.frozen;
        const wasRunning = this.dividerRunning;
        const second = this.currentSecond(now);
        this.cmos[register] = register === REG_A ? value & 0x7f : value; // UIP is read-only
        if (!wasFrozen && this.frozen) this.saveTimeToRegisters(second);
        if (!wasRunning && this.dividerRunning) this.originNs = now + DIVIDER_RELEASE_NS - NS_PER_S;
        if (wasFrozen && !this.frozen) this.loadTimeFromRegisters(now);
        this.updateIrq(); // a flag already set raises IRQ 8 as soon as it is enabled
        return;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.cmos[register] = value;
    }
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      cmos: Array.from(this.cmos),
      index: this.index,
      nmiMasked: this.nmiMasked,
      baseSecond: this.baseSecond,
      originNs: this.originNs,
      flags: this.flags,
      flagsSyncedNs: this.flagsSyncedNs,
      irqLevel: this.irqLevel,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.cmos.set(s.cmos as number[]);
    this.index = s.index as number;
    this.nmiMasked = s.nmiMasked as boolean;
    this.baseSecond = s.baseSecond as number;
    this.originNs = s.originNs as number;
    this.flags = s.flags as number;
    this.flagsSyncedNs = s.flagsSyncedNs as number;
    this.irqLevel = s.irqLevel as boolean;
    this.irq8.set(this.irqLevel);
  }
}

/** The first time of day (seconds since midnight) at or after `from` matching [h, m, s]. */
function nextTimeOfDay(pattern: (number | undefined)[], from: number): number | undefined {
  const [hour, minute, second] = pattern;
  const fromH = Math.floor(from / 3600);
  const fromM = Math.floor(from / 60) % 60;
  for (let h = fromH; h < 24; h++) {
    if (hour !== undefined && h !== hour) continue;
    for (let m = h === fromH ? fromM : 0; m < 60; m++) {
      if (minute !== undefined && m !== minute) continue;
      for (let s = h === fromH && m === fromM ? from % 60 : 0; s < 60; s++) {
        if (second === undefined || s === second) return h * 3600 + m * 60 + s;
      }
    }
  }
  return undefined;
}
