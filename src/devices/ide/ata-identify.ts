// The 256 words IDENTIFY DEVICE returns (ATA/ATAPI-6, IDENTIFY DEVICE) for a disk: its strings,
// geometry, capacity, the feature sets it has and the transfer modes it offers. The modes
// offered are QEMU's drive's (multiword DMA 0-2, Ultra DMA 0-5, PIO 3-4), with the one SET
// FEATURES last selected marked in the high byte of its word.
import { chsCapacity, type ChsGeometry } from './chs-geometry.js';
import { MAX_MULTIPLE_SECTORS, SECTOR_BYTES } from './ata-registers.js';

export interface DriveIdentity {
  /** Up to 40 characters. */
  model: string;
  /** Up to 20 characters. */
  serial: string;
  /** Up to 8 characters. */
  firmware: string;
}

/** What of a drive's state IDENTIFY DEVICE reports. */
export interface IdentifyState {
  sectors: number;
  defaultGeometry: ChsGeometry;
  currentGeometry: ChsGeometry;
  /** Sectors per READ/WRITE MULTIPLE block, 0 when disabled. */
  multipleSectors: number;
  /** The transfer mode last set, as SET FEATURES' Sector Count encodes it (SET FEATURES, set transfer mode). */
  transferMode: number;
  writeCache: boolean;
}

/** SET FEATURES transfer mode types (the Sector Count's bits 7-3) and the highest mode of each offered. */
export const TransferModeType = {
  PIO_DEFAULT: 0x00,
  PIO: 0x08,
  SINGLE_WORD_DMA: 0x10,
  MULTIWORD_DMA: 0x20,
  ULTRA_DMA: 0x40,
} as const;
export const MAX_PIO_MODE = 4;
export const MAX_SINGLE_WORD_DMA_MODE = 2;
export const MAX_MULTIWORD_DMA_MODE = 2;
export const MAX_ULTRA_DMA_MODE = 5;
/** Ultra DMA mode 5, what QEMU's drive says is selected before any SET FEATURES. */
export const DEFAULT_TRANSFER_MODE = TransferModeType.ULTRA_DMA | MAX_ULTRA_DMA_MODE;

/** The most sectors LBA28 commands reach (words 60-61 say at most this). */
const LBA28_SECTORS = 0x0fffffff;

/**
 * An ATA string: two characters per word, the first in bits 15-8 (IDENTIFY DEVICE, the
 * notes on words 10-19, 23-26 and 27-46), padded with spaces. In the bytes a driver reads that is every pair swapped.
 */
function putString(words: Uint16Array, first: number, wordCount: number, text: string): void {
  const padded = text.slice(0, wordCount * 2).padEnd(wordCount * 2, ' ');
  for (let i = 0; i < wordCount; i++) words[first + i] = (padded.charCodeAt(2 * i) << 8) | padded.charCodeAt(2 * i + 1);
}

/** The selected mode of `type` as its word's high-byte bit, if the transfer mode is of that type. */
function selected(transferMode: number, type: number): number {
  return (transferMode & 0xf8) === type ? 1 << ((transferMode & 0x07) + 8) : 0;
}

export function identifyDevice(identity: DriveIdentity, state: IdentifyState): Uint8Array {
  const w = new Uint16Array(SECTOR_BYTES / 2);
  const total = state.sectors;
  const current = state.currentGeometry;
  w[0] = 0x0040; // an ATA device (bit 15 clear); bit 6 "not removable", obsolete but set by drives and QEMU
  w[1] = state.defaultGeometry.cylinders;
  w[3] = state.defaultGeometry.heads;
  w[6] = state.defaultGeometry.sectorsPerTrack;
  putString(w, 10, 10, identity.serial);
  putString(w, 23, 4, identity.firmware);
  putString(w, 27, 20, identity.model);
  w[47] = 0x8000 | MAX_MULTIPLE_SECTORS;
  w[49] = (1 << 11) | (1 << 9) | (1 << 8); // IORDY supported, LBA supported, DMA supported
  w[50] = 0x4000;
  w[51] = 0x0200; // obsolete PIO and DMA timing modes, as QEMU reports them
  w[52] = 0x0200;
  w[53] = 0x0007; // words 54-58, 64-70 and 88 are valid
  w[54] = current.cylinders;
  w[55] = current.heads;
  w[56] = current.sectorsPerTrack;
  const chs = chsCapacity(current);
  w[57] = chs & 0xffff;
  w[58] = chs >>> 16;
  if (state.multipleSectors > 0) w[59] = 0x0100 | state.multipleSectors;
  const lba28 = Math.min(total, LBA28_SECTORS);
  w[60] = lba28 & 0xffff;
  w[61] = lba28 >>> 16;
  w[62] = 0x0007 | selected(state.transferMode, TransferModeType.SINGLE_WORD_DMA); // obsolete in ATA-6; QEMU still fills it
  w[63] = 0x0007 | selected(state.transferMode, TransferModeType.MULTIWORD_DMA);
  w[64] = 0x0003; // PIO modes 3 and 4
  w[65] = 120; // cycle times in ns: multiword DMA minimum and recommended, PIO without and with IORDY
  w[66] = 120;
  w[67] = 120;
  w[68] = 120;
  w[80] = 0x007e; // ATA-1 to ATA/ATAPI-6
  w[82] = 1 << 5; // write cache
  w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses
  w[84] = 1 << 14;
  w[85] = state.writeCache ? 1 << 5 : 0;
  w[86] = (1 << 13) | (1 << 12) | (1 << 10);
  w[87] = 1 << 14;
  w[88] = 0x003f | selected(state.transferMode, TransferModeType.ULTRA_DMA);
  w[93] = 0x6001; // hardware reset result, as QEMU's drive reports it (an 80-conductor cable detected)
  // Words 100-103: the 48-bit capacity, low word first.
  w[100] = total % 0x10000;
  w[101] = Math.floor(total / 0x10000) % 0x10000;
  w[102] = Math.floor(total / 0x100000000) % 0x10000;
  w[103] = 0;
  const bytes = new Uint8Array(w.buffer);
  // Word 255, integrity: signature A5h, and a checksum that makes all 512 bytes sum to zero.
  bytes[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += bytes[i];
  bytes[511] = -sum & 0xff;
  return bytes;
}
