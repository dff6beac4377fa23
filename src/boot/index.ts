// The guest-image loaders: bytes in, a LoadPlan or a LoadError out.
export { planImage, type ImageFormat, type PlanImageOptions } from './detect.js';
export { planBootSector } from './bootsector.js';
export { planFlat, realModeEntry, type FlatOptions } from './flat.js';
export { planMultiboot, scanMultibootHeader, type MultibootOptions } from './multiboot.js';
export { Elf32File, parseElf32, lookupSymbol, type ElfSymbol } from './elf32.js';
export { LoadError, type CpuMode, type LoadErrorCode, type LoadPlan, type SegmentSetup } from './load-plan.js';
