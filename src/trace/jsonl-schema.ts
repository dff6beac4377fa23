// The JSON Schema (draft 2020-12, https://json-schema.org/draft/2020-12/json-schema-core) of one
// line of a `--trace-format jsonl` trace, as written by jsonl-writer.ts. Every line is exactly one
// of the records below, told apart by "type". docs/trace-format.md describes the same fields.

const u32 = { type: 'integer', minimum: 0, maximum: 0xffffffff } as const;
const u16 = { type: 'integer', minimum: 0, maximum: 0xffff } as const;
const u8 = { type: 'integer', minimum: 0, maximum: 0xff } as const;
const accessSize = { enum: [1, 2, 4, 8] } as const;
const seq = { type: 'integer', minimum: 0, description: 'Number of the executed instruction the record belongs to, from 0' } as const;
const timeNs = { type: 'number', minimum: 0, description: 'Guest time in nanoseconds' } as const;

const registers = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4'] as const;

export const TRACE_JSONL_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:vmm:trace:jsonl-line',
  title: 'vmm trace: one JSON Lines record',
  oneOf: [
    { $ref: '#/$defs/insn' },
    { $ref: '#/$defs/io' },
    { $ref: '#/$defs/mmio' },
    { $ref: '#/$defs/interrupt' },
    { $ref: '#/$defs/control' },
    { $ref: '#/$defs/pageFault' },
    { $ref: '#/$defs/exit' },
    { $ref: '#/$defs/translate' },
    { $ref: '#/$defs/vmmCall' },
  ],
  $defs: {
    insn: {
      description: 'One executed guest instruction',
      type: 'object',
      properties: {
        type: { const: 'insn' },
        seq,
        timeNs,
        mode: { enum: ['real', 'protected', 'paging'] },
        cpl: { type: 'integer', minimum: 0, maximum: 3 },
        cs: u16,
        eip: u32,
        linear: { ...u32, description: 'CS base + EIP' },
        bytes: { type: 'string', pattern: '^([0-9a-f]{2}){1,15}$', description: 'Instruction bytes, lowercase hex' },
        asm: { type: 'string', description: 'Capstone disassembly, "mnemonic operands"' },
        mnemonic: { type: 'string' },
        symbol: { type: 'string', description: '"function+0x12", for guests with symbols' },
        regs: {
          type: 'object',
          description: 'Registers the instruction changed, with their new values',
          properties: Object.fromEntries(registers.map((name) => [name, u32])),
          additionalProperties: false,
        },
        mem: {
          type: 'array',
          description: 'With --mem: the memory accesses of the instruction, in order',
          items: {
            type: 'object',
            properties: {
              kind: { enum: ['read', 'write'] },
              address: { ...u32, description: 'Linear address' },
              size: accessSize,
              value: {
                oneOf: [
                  { type: 'integer', minimum: 0, maximum: 0xffffffff },
                  { type: 'string', pattern: '^[0-9]+$', description: 'An 8-byte value, in decimal' },
                ],
              },
            },
            required: ['kind', 'address', 'size', 'value'],
            additionalProperties: false,
          },
        },
      },
      required: ['type', 'seq', 'timeNs', 'mode', 'cpl', 'cs', 'eip', 'linear', 'bytes', 'asm', 'mnemonic', 'regs'],
      additionalProperties: false,
    },
    io: {
      description: 'A port I/O access by the guest',
      type: 'object',
      properties: {
        type: { const: 'io' },
        seq,
        timeNs,
        direction: { enum: ['in', 'out'] },
        port: u16,
        size: { enum: [1, 2, 4] },
        value: u32,
      },
      required: ['type', 'seq', 'timeNs', 'direction', 'port', 'size', 'value'],
      additionalProperties: false,
    },
    mmio: {
      description: 'A memory-mapped I/O access by the guest',
      type: 'object',
      properties: {
        type: { const: 'mmio' },
        seq,
        timeNs,
        direction: { enum: ['read', 'write'] },
        address: u32,
        size: accessSize,
        value: u32,
      },
      required: ['type', 'seq', 'timeNs', 'direction', 'address', 'size', 'value'],
      additionalProperties: false,
    },
    interrupt: {
      description: 'An interrupt or exception delivered into the guest',
      type: 'object',
      properties: {
        type: { const: 'interrupt' },
        seq,
        timeNs,
        vector: u8,
        source: { enum: ['external', 'exception', 'software'] },
        errorCode: u32,
        cr2: { ...u32, description: 'The faulting address, for page faults' },
      },
      required: ['type', 'seq', 'timeNs', 'vector', 'source'],
      additionalProperties: false,
    },
    pageFault: {
      description: 'Trap engine: a page fault the shadow MMU filled without the guest seeing it (true faults are interrupt records, vector 14)',
      type: 'object',
      properties: {
        type: { const: 'page-fault' },
        seq,
        timeNs,
        address: u32,
        errorCode: u32,
        handling: { const: 'hidden' },
      },
      required: ['type', 'seq', 'timeNs', 'address', 'errorCode', 'handling'],
      additionalProperties: false,
    },
    control: {
      description: 'A write to CR0, CR3 or CR4 that changed it, after the instruction that made it',
      type: 'object',
      properties: {
        type: { const: 'control' },
        seq,
        timeNs,
        register: { enum: ['cr0', 'cr3', 'cr4'] },
        previous: u32,
        value: u32,
        mode: { enum: ['real', 'protected', 'paging'], description: 'The new CPU mode, when it changed' },
      },
      required: ['type', 'seq', 'timeNs', 'register', 'previous', 'value'],
      additionalProperties: false,
    },
    translate: {
      description: 'bt engine: a block of guest code translated into the translation cache',
      type: 'object',
      properties: {
        type: { const: 'translate' },
        seq,
        timeNs,
        start: { ...u32, description: 'First guest byte translated' },
        end: { ...u32, description: 'One past the last guest byte translated' },
        cacheBytes: { type: 'integer', minimum: 0, description: 'Bytes of translated code' },
        rewritten: { type: 'integer', minimum: 0, description: 'Instructions rewritten rather than copied as they are' },
      },
      required: ['type', 'seq', 'timeNs', 'start', 'end', 'cacheBytes', 'rewritten'],
      additionalProperties: false,
    },
    vmmCall: {
      description: 'bt engine: translated code called the VMM (a direct jump run for the first time, a lookup miss, an instruction to emulate)',
      type: 'object',
      properties: {
        type: { const: 'vmm-call' },
        seq,
        timeNs,
        kind: { enum: ['exit', 'lookup-miss', 'emulate', 'iret'] },
        address: { ...u32, description: 'The guest address: the jump target, or the emulated instruction' },
      },
      required: ['type', 'seq', 'timeNs', 'kind', 'address'],
      additionalProperties: false,
    },
    exit: {
      description: 'A VMM exit: the run loop got control back from the vCPU',
      type: 'object',
      properties: {
        type: { const: 'exit' },
        seq,
        timeNs,
        durationNs: { type: 'number', minimum: 0, description: 'How long the slice that ended in this exit ran' },
        reason: { type: 'string' },
      },
      required: ['type', 'seq', 'timeNs', 'durationNs', 'reason'],
      additionalProperties: false,
    },
  },
} as const;
