; A boot sector that relies on what a PC BIOS leaves behind: the 8259s programmed (IRQ 0 at
; vector 08h, master mask B8h), the BIOS's timer handler counting ticks at 0040:006C and calling
; the INT 1Ch hook. It hooks INT 1Ch, waits for three ticks with HLT, and exits through the
; debug-exit port with the ticks the BIOS counted (3), or 0x7f if the mask was not the BIOS's.
%include "boot-sector.inc"
bits 16
org 0x7c00
    BOOT_SECTOR_ENTRY
    in al, 0x21
    cmp al, 0xb8
    jne fail
    mov word [0x1c * 4], tick_hook
    mov word [0x1c * 4 + 2], 0
    mov eax, [0x46c]
    mov [start], eax
    sti
wait_ticks:
    hlt
    cmp word [hooks], 3
    jb wait_ticks
    cli
    mov eax, [0x46c]
    sub eax, [start]
    out 0xf4, al
fail:
    mov al, 0x7f
    out 0xf4, al
    hlt
tick_hook:
    inc word [cs:hooks]
    iret
hooks: dw 0
start: dd 0
    BOOT_SECTOR_SIGNATURE
