; entry.asm - multiboot v1 header and entry point for the C guests.
;
; The loader finds the header by scanning the first 8192 bytes of the image
; for a 4-byte-aligned magic (Multiboot spec §3.1); link.ld places the
; .multiboot section first so it lands right after the ELF headers. Without
; flag bit 16 the loader takes the load addresses from the ELF program
; headers (§3.1.3), so none of the a.out-kludge address fields are present.

MB_MAGIC        equ 0x1BADB002
MB_FLAG_MEMINFO equ 1 << 1          ; ask for mem_* and the memory map (§3.1.2)
MB_FLAGS        equ MB_FLAG_MEMINFO
STACK_SIZE      equ 16384

section .multiboot progbits alloc noexec nowrite align=4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)       ; magic + flags + checksum must sum to 0

section .bss nobits alloc noexec write align=16
stack_bottom:
    resb STACK_SIZE
stack_top:

section .text progbits alloc exec nowrite align=16
bits 32
global _start
extern kmain
_start:
    ; Machine state at entry (§3.2): 32-bit protected mode, paging off, flat
    ; CS/DS/ES/FS/GS/SS, EAX = 0x2BADB002, EBX = physical address of the
    ; multiboot info, ESP undefined. GDTR may be invalid, so we never reload
    ; a segment register; we only need a stack before calling C.
    mov esp, stack_top
    cld                             ; the C ABI assumes DF = 0
    push ebx                        ; kmain(magic, info)
    push eax
    call kmain
.hang:                              ; kmain should exit via port 0xF4
    cli
    hlt
    jmp .hang

section .note.GNU-stack noalloc noexec nowrite progbits   ; no executable stack
