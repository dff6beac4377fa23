// `--bios`, `--firmware FILE`, `--boot order=LETTERS` and `--firmware-log FILE`: a boot through
// PC firmware. Without --firmware, the firmware is Debian's SeaBIOS, the image QEMU's PC machine
// uses. (`--bios` takes no file, so that `vmm boot --bios disk.img` boots the disk.)
import { openSync, writeSync } from 'node:fs';
import { BadBootOrder, DEFAULT_BOOT_ORDER, parseBootOrder } from '../firmware/boot-order.js';
import type { FirmwareConfig } from '../vmm/machine.js';
import { describeErrno } from '../util/errno.js';
import { readGuestImage } from './guest-image.js';
import { UserError } from './user-error.js';

export const DEFAULT_BIOS = '/usr/share/seabios/bios-256k.bin';
/** No PC flash is larger (boot/firmware.ts refuses what is). */
const MAX_FIRMWARE_BYTES = 16 * 1024 * 1024;

export interface FirmwareOptions {
  /** `--bios`: boot through firmware. */
  bios?: boolean;
  /** `--firmware FILE`: the firmware's image (implies --bios). */
  firmware?: string;
  boot?: string;
  firmwareLog?: string;
}

/**
 * The firmware file a boot uses, or undefined for a boot without firmware. `implied`: the boot
 * gives disks and no kernel, so it goes through the default firmware without --bios.
 */
export function firmwarePath(options: FirmwareOptions, implied = false): string | undefined {
  if (options.bios === true || options.firmware !== undefined || implied) return options.firmware ?? DEFAULT_BIOS;
  if (options.boot !== undefined) throw new UserError('--boot applies to a boot through firmware (--bios, or disks without a kernel)');
  if (options.firmwareLog !== undefined) throw new UserError('--firmware-log applies to a boot through firmware (--bios, or disks without a kernel)');
  return undefined;
}

/** `--boot order=cad` or `--boot cad` (QEMU's forms), as devices in order. */
function bootOrder(option: string | undefined): FirmwareConfig['bootOrder'] {
  const letters = option === undefined ? DEFAULT_BOOT_ORDER : option.replace(/^order=/, '');
  try {
    return parseBootOrder(letters);
  } catch (error) {
    if (error instanceof BadBootOrder) throw new UserError(`--boot: ${error.message}`);
    throw error;
  }
}

/** The firmware's image and settings; the log file, when asked for, is opened here. */
export function firmwareConfig(path: string, options: FirmwareOptions): FirmwareConfig {
  const image = readGuestImage(path, 'firmware', MAX_FIRMWARE_BYTES);
  const config: FirmwareConfig = { image, bootOrder: bootOrder(options.boot) };
  if (options.firmwareLog !== undefined) {
    let fd: number;
    try {
      fd = openSync(options.firmwareLog, 'w');
    } catch (error) {
      throw new UserError(`cannot write the firmware log to '${options.firmwareLog}': ${describeErrno(error)}`);
    }
    config.onLogLine = (line) => writeSync(fd, `${line}\n`);
  }
  return config;
}
