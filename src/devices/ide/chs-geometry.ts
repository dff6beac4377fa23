// Cylinder-head-sector geometry of an ATA disk (ATA/ATAPI-6, CHS addressing): the default one IDENTIFY
// DEVICE reports in words 1, 3 and 6, and the current translation (words 54-58) that INITIALIZE
// DEVICE PARAMETERS sets and CHS addresses are decoded with.

export interface ChsGeometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** The most sectors CHS addressing may cover (16,383 × 16 × 63, 8.4 GB). */
export const CHS_MAX_SECTORS = 16383 * 16 * 63;
const MAX_CYLINDERS = 65535;

/** The geometry with `heads` and `sectorsPerTrack` for a disk of `sectors`: as many whole cylinders as fit. */
export function chsGeometry(sectors: number, heads: number, sectorsPerTrack: number): ChsGeometry {
  const cylinders = Math.min(MAX_CYLINDERS, Math.floor(Math.min(sectors, CHS_MAX_SECTORS) / (heads * sectorsPerTrack)));
  return { cylinders, heads, sectorsPerTrack };
}

/**
 * The default geometry: 16 heads of 63 sectors, as QEMU gives a disk without a partition table
 * to guess from, up to 16,383 cylinders. A disk smaller than one such cylinder gets fewer heads
 * and sectors, so that what CHS can address is always on the disk.
 */
export function defaultGeometry(sectors: number): ChsGeometry {
  if (sectors >= 16 * 63) return chsGeometry(sectors, 16, 63);
  const sectorsPerTrack = Math.min(63, sectors);
  return chsGeometry(sectors, Math.min(16, Math.floor(sectors / sectorsPerTrack)), sectorsPerTrack);
}

/** The sectors a geometry covers. */
export function chsCapacity(g: ChsGeometry): number {
  return g.cylinders * g.heads * g.sectorsPerTrack;
}
