; A guest that starts the PIT, masks every IRQ at both 8259As, enables interrupts and halts:
; nothing can wake it, so the run ends (a halt with no unmasked interrupt source).
bits 32
org 0x100000
    mov al, 0xFF                    ; OCW1: mask everything on both controllers
    out 0x21, al
    out 0xA1, al
    mov al, 0x34                    ; 8254 counter 0, mode 2: it keeps counting
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al
    sti
    hlt
    mov al, 1                       ; never reached
    out 0xF4, al
