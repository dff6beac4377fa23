; haltwait.asm - HLT with interrupts disabled while an interrupt waits, as a boot sector.
;
; Programs the 8259A master (vectors 0x20-0x27, only IRQ 0 unmasked) and the 8254's counter 0
; at 1 kHz, keeps IF = 0, and waits until IRQ 0 shows in the 8259A's IRR (OCW3 read): the VMM
; now has an interrupt for a CPU that cannot take it. Then a block of port writes (each one an
; exit to the VMM, long enough for the VMM to look for an interrupt window during it) ends in
; HLT. With IF = 0 that HLT is the end of the run (SDM Vol. 3 §6.3: only NMI, SMI, INIT or
; reset wake it); a VMM that took it for one of its own stops would resume past it, and the guest
; reports that through the debug-exit port with value 1.
;
; Output: "IRQ 0 waits; halting\n", then the run ends halted with interrupts disabled.

bits 16
org 0x7C00

PORT_WRITES equ 120

%include "boot-sector.inc"

start:
    BOOT_SECTOR_ENTRY
    call uart_init

    ; 8259A master: ICW1 (edge, cascade, ICW4), ICW2, ICW3, ICW4 (8086), OCW1.
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xFE
    out 0x21, al
    ; 8254 counter 0: mode 2, LSB then MSB, count 1193 (1 kHz).
    mov al, 0x34
    out 0x43, al
    mov al, 1193 & 0xFF
    out 0x40, al
    mov al, 1193 >> 8
    out 0x40, al

.wait:
    mov al, 0x0A                    ; OCW3: the next read of port 0x20 returns the IRR
    out 0x20, al
    in al, 0x20
    test al, 1
    jz .wait

    mov si, msg_halting
    call uart_puts
    times PORT_WRITES out 0x80, al
    hlt
    mov si, msg_past
    call uart_puts
    mov al, 1
    out 0xF4, al
    hlt

%include "uart.inc"

msg_halting: db "IRQ 0 waits; halting", 10, 0
msg_past:    db "ran past HLT", 10, 0

BOOT_SECTOR_SIGNATURE
