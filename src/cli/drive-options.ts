// `--drive` in QEMU's vocabulary (file=PATH,format=raw,readonly=on,if=ide,index=N,media=disk;
// a comma inside a value is written twice, as QEMU's option syntax has it) and the -hda to -hdd
// shorthands: parsed, checked and placed on the IDE controller, each problem a one-line error.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiskImage, DiskImageError } from '../devices/ide/disk-image.js';
import { IDE_DRIVE_INDEXES, type DriveConfig } from '../vmm/machine.js';
import { UserError } from './user-error.js';

const KEYS = ['file', 'format', 'readonly', 'if', 'index', 'media'] as const;
type Key = (typeof KEYS)[number];

/** One --drive as given: its file, and its index if it names one. */
export interface DriveSpec {
  file: string;
  index?: number;
  readOnly: boolean;
}

/** Splits QEMU-style `key=value,key=value` where `,,` is a comma inside a value. */
function splitOptions(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ',') current += text[i];
    else if (text[i + 1] === ',') {
      current += ',';
      i++;
    } else {
      parts.push(current);
      current = '';
    }
  }
  parts.push(current);
  return parts;
}

const ON = ['on', 'true', 'yes'];
const OFF = ['off', 'false', 'no'];

export function parseDriveSpec(text: string): DriveSpec {
  const fail = (reason: string): never => {
    throw new UserError(`--drive '${text}': ${reason}`);
  };
  const given = new Map<Key, string>();
  for (const part of splitOptions(text)) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    // A bare flag is QEMU's shorthand for flag=on.
    const key = equals < 0 ? part : part.slice(0, equals);
    const value = equals < 0 ? 'on' : part.slice(equals + 1);
    if (!(KEYS as readonly string[]).includes(key)) fail(`unknown key '${key}'; the keys are ${KEYS.join(', ')}`);
    if (given.has(key as Key)) fail(`${key} is given twice`);
    given.set(key as Key, value);
  }
  const file = given.get('file');
  if (file === undefined || file === '') return fail('no file=PATH');
  const format = given.get('format') ?? 'raw';
  if (format !== 'raw') fail(`format '${format}' is not supported; only raw images are (format=raw)`);
  const iface = given.get('if') ?? 'ide';
  if (iface !== 'ide') fail(`if=${iface} is not supported; drives are IDE disks (if=ide)`);
  const media = given.get('media') ?? 'disk';
  if (media === 'cdrom') fail('media=cdrom is not supported yet; drives are disks (media=disk)');
  if (media !== 'disk') fail(`unknown media '${media}'; give media=disk`);
  const readOnlyText = given.get('readonly') ?? 'off';
  if (!ON.includes(readOnlyText) && !OFF.includes(readOnlyText)) fail(`readonly takes on or off, not '${readOnlyText}'`);
  const indexText = given.get('index');
  let index: number | undefined;
  if (indexText !== undefined) {
    index = /^\d+$/.test(indexText) ? Number(indexText) : NaN;
    if (!(index >= 0 && index < IDE_DRIVE_INDEXES)) {
      fail(`index ${indexText} is not a place on the IDE controller: give 0 to ${IDE_DRIVE_INDEXES - 1} (primary master, primary slave, secondary master, secondary slave)`);
    }
  }
  return { file, index, readOnly: ON.includes(readOnlyText) };
}

/** QEMU's -hda, -hdb, -hdc, -hdd: a raw disk at index 0 to 3. */
export const DRIVE_SHORTHANDS = ['hda', 'hdb', 'hdc', 'hdd'] as const;

/**
 * Places the drives: those with an index there, the others in the free places in order
 * (primary master, primary slave, secondary master, secondary slave). Each image is opened
 * once to check it; `note` hears about one that can only be read.
 */
export function placeDrives(specs: readonly DriveSpec[], note: (line: string) => void): DriveConfig[] {
  if (specs.length > IDE_DRIVE_INDEXES) {
    throw new UserError(`${specs.length} drives given; the IDE controller takes at most ${IDE_DRIVE_INDEXES} (two channels, master and slave)`);
  }
  const places: (DriveSpec | undefined)[] = new Array(IDE_DRIVE_INDEXES).fill(undefined);
  for (const spec of specs) {
    if (spec.index === undefined) continue;
    if (places[spec.index]) throw new UserError(`drive index ${spec.index} is taken by '${places[spec.index]!.file}' already ('${spec.file}' asks for it too)`);
    places[spec.index] = spec;
  }
  for (const spec of specs) {
    if (spec.index !== undefined) continue;
    const free = places.findIndex((place) => place === undefined);
    if (free < 0) throw new UserError(`no free place on the IDE controller for '${spec.file}'`);
    places[free] = spec;
  }
  const drives: DriveConfig[] = [];
  const files = new Map<string, DriveSpec>();
  places.forEach((spec, index) => {
    if (!spec) return;
    let readOnly = spec.readOnly;
    try {
      const image = DiskImage.open(spec.file, spec.readOnly);
      if (image.readOnly && !spec.readOnly) {
        note(`drive image '${spec.file}' is not writable: the drive is read-only, and the guest's writes to it fail`);
        readOnly = true;
      }
      image.close();
      // One file behind two drives that may write would be two caches of one disk, each unaware
      // of the other's writes (QEMU's image locking refuses it too).
      const { dev, ino } = statSync(spec.file);
      const key = `${dev}:${ino}`;
      const other = files.get(key);
      if (other && !(other.readOnly && readOnly)) {
        throw new UserError(`'${spec.file}' is behind two drives, and a drive may write it: give both readonly=on, or use two images`);
      }
      files.set(key, { ...spec, readOnly });
    } catch (error) {
      if (error instanceof DiskImageError) throw new UserError(error.message);
      throw error;
    }
    // The absolute path: a machine restored elsewhere finds the same file (shared storage).
    drives.push({ path: resolve(spec.file), index, readOnly });
  });
  return drives;
}
