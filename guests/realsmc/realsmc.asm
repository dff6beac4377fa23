; realsmc.asm - self-modifying code in real mode, as a boot sector.
;
; A loop patches the imm16 of a `mov bx, imm16` a few dozen bytes ahead in its own code, jumps
; to it and adds what it loaded, 100 times with a new value each time (i * 8). A store to code is
; seen by the next fetch after a jump (Intel SDM Vol. 3 §8.1.3), so the sum is 8 * 5050 = 40400.
; Exits through the debug-exit port (0xF4) with value 0 when the sum is right, 1 otherwise.

bits 16
org 0x7C00

%include "boot-sector.inc"

start:
    BOOT_SECTOR_ENTRY
    xor si, si                      ; the sum
    mov cx, 1
patch_loop:
    mov dx, cx
    shl dx, 3
    mov [patched + 1], dx
    jmp short patched
    times 32 nop
patched:
    mov bx, 0                       ; BB iw: the immediate is rewritten above
    add si, bx
    inc cx
    cmp cx, 101
    jb patch_loop
    xor al, al
    cmp si, 40400
    je done
    inc al
done:
    out 0xF4, al
    hlt

BOOT_SECTOR_SIGNATURE
