// The ATA register bits and command codes a drive and its channel share (ATA/ATAPI-6, T13 1410D
// revision 3b: clause 7 registers, clause 8 commands, clause 9 protocols).

/** Command block offsets from the channel's base port. */
export const Register = {
  DATA: 0,
  /** Read: Error; write: Features. */
  ERROR: 1,
  SECTOR_COUNT: 2,
  /** LBA bits 7-0, or the sector number in CHS addressing. */
  LBA_LOW: 3,
  /** LBA bits 15-8, or the cylinder's low byte. */
  LBA_MID: 4,
  /** LBA bits 23-16, or the cylinder's high byte. */
  LBA_HIGH: 5,
  DEVICE: 6,
  /** Read: Status; write: Command. */
  STATUS: 7,
} as const;

/** Status register. DSC (bit 4) is obsolete in ATA-6 but still set by drives and QEMU. */
export const Status = {
  ERR: 0x01,
  DRQ: 0x08,
  DSC: 0x10,
  DF: 0x20,
  DRDY: 0x40,
  BSY: 0x80,
} as const;

/** A drive ready for commands and doing nothing. */
export const STATUS_IDLE = Status.DRDY | Status.DSC;

/** Error register. */
export const AtaError = {
  /** Command aborted: not supported, bad parameters, or the drive refused it. */
  ABRT: 0x04,
  /** The address is outside the drive. */
  IDNF: 0x10,
} as const;

/** Device register: bits 7 and 5 are obsolete; bits 3-0 are the head or LBA 27-24. */
export const DeviceBits = {
  DEV: 0x10,
  LBA: 0x40,
  HEAD: 0x0f,
} as const;

/** Device Control register, written at the control block port (0x3F6 / 0x376). */
export const Control = {
  /** Interrupts disabled: the drive does not drive INTRQ. */
  NIEN: 0x02,
  SRST: 0x04,
  /** High order byte: reads of the LBA and count registers return the previous values. */
  HOB: 0x80,
} as const;

/** The diagnostic code a passing drive leaves in its Error register (EXECUTE DEVICE DIAGNOSTIC). */
export const DIAGNOSTIC_PASSED = 0x01;

/** Command codes (clause 8; the obsolete "without retries" variants of ATA-1 to ATA-3 act the same). */
export const Command = {
  RECALIBRATE: 0x10,
  READ_SECTORS: 0x20,
  READ_SECTORS_NO_RETRY: 0x21,
  READ_SECTORS_EXT: 0x24,
  READ_DMA_EXT: 0x25,
  READ_MULTIPLE_EXT: 0x29,
  WRITE_SECTORS: 0x30,
  WRITE_SECTORS_NO_RETRY: 0x31,
  WRITE_SECTORS_EXT: 0x34,
  WRITE_DMA_EXT: 0x35,
  WRITE_MULTIPLE_EXT: 0x39,
  READ_VERIFY_SECTORS: 0x40,
  READ_VERIFY_SECTORS_NO_RETRY: 0x41,
  READ_VERIFY_SECTORS_EXT: 0x42,
  EXECUTE_DEVICE_DIAGNOSTIC: 0x90,
  INITIALIZE_DEVICE_PARAMETERS: 0x91,
  READ_MULTIPLE: 0xc4,
  WRITE_MULTIPLE: 0xc5,
  SET_MULTIPLE_MODE: 0xc6,
  READ_DMA: 0xc8,
  READ_DMA_NO_RETRY: 0xc9,
  WRITE_DMA: 0xca,
  WRITE_DMA_NO_RETRY: 0xcb,
  STANDBY_IMMEDIATE: 0xe0,
  IDLE_IMMEDIATE: 0xe1,
  STANDBY: 0xe2,
  IDLE: 0xe3,
  CHECK_POWER_MODE: 0xe5,
  FLUSH_CACHE: 0xe7,
  IDENTIFY_DEVICE: 0xec,
  FLUSH_CACHE_EXT: 0xea,
  SET_FEATURES: 0xef,
} as const;

/** SET FEATURES subcommands in the Features register that the drive accepts. */
export const Feature = {
  ENABLE_WRITE_CACHE: 0x02,
  SET_TRANSFER_MODE: 0x03,
  DISABLE_READ_LOOK_AHEAD: 0x55,
  DISABLE_REVERTING_TO_DEFAULTS: 0x66,
  DISABLE_WRITE_CACHE: 0x82,
  ENABLE_READ_LOOK_AHEAD: 0xaa,
  ENABLE_REVERTING_TO_DEFAULTS: 0xcc,
} as const;

export const SECTOR_BYTES = 512;
/** The most sectors a READ/WRITE MULTIPLE block may have here (IDENTIFY word 47), as QEMU's drive. */
export const MAX_MULTIPLE_SECTORS = 16;
