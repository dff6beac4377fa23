; timer.asm - external interrupts from the PC platform, seen from the guest.
;
; A multiboot (a.out kludge) kernel that programs the 8259A pair the way Linux does (ICW1-ICW4,
; vectors 0x20/0x28, only IRQ 0 unmasked) and the 8254's counter 0 as a 100 Hz rate generator
; (mode 2, count 11932), then waits in HLT for 50 timer interrupts. Each interrupt is an IDT
; gate to a handler that counts and sends a non-specific EOI (8259A datasheet, OCW2).
; 50 ticks at 100 Hz take 0.5 s of real time if guest time follows the host's clock.
;
; Output: "50 timer interrupts\n", then isa-debug-exit with value 0 (status 1).

bits 32
org 0x100000

%include "multiboot-aout.inc"

section .text
TICKS    equ 50

MULTIBOOT_AOUT_HEADER start

start:
    mov esp, stack_top
    cld
    call uart_init
    lgdt [gdtr]
    jmp 0x08:.reload
.reload:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax

    ; IDT entry 0x20: 32-bit interrupt gate to tick_handler.
    mov eax, tick_handler
    mov [idt + 0x20 * 8], ax
    mov word [idt + 0x20 * 8 + 2], 0x08
    mov word [idt + 0x20 * 8 + 4], 0x8E00
    shr eax, 16
    mov [idt + 0x20 * 8 + 6], ax
    lidt [idtr]

    ; 8259A pair: ICW1 (edge, cascade, ICW4), ICW2 (vector base), ICW3 (cascade on IR2), ICW4 (8086).
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xA1, al
    mov al, 0x01
    out 0x21, al
    out 0xA1, al
    mov al, 0xFE                    ; OCW1: only IRQ 0
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al

    ; 8254 counter 0: mode 2, LSB then MSB, count 11932 (1193182 Hz / 100).
    mov al, 0x34
    out 0x43, al
    mov al, 11932 & 0xFF
    out 0x40, al
    mov al, 11932 >> 8
    out 0x40, al

    sti
.wait:
    hlt
    cmp dword [ticks], TICKS
    jb .wait
    cli
    mov esi, msg_done
    call uart_puts
    xor al, al
    out 0xF4, al
.halt:
    hlt
    jmp .halt

tick_handler:
    push eax
    inc dword [ticks]
    mov al, 0x20                    ; OCW2: non-specific EOI
    out 0x20, al
    pop eax
    iretd

%include "uart.inc"

msg_done: db "50 timer interrupts", 10, 0

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd gdt
idtr:
    dw 256 * 8 - 1
    dd idt

load_end:

section .bss align=16
ticks:  resd 1
idt:    resb 256 * 8
        resb 4096
stack_top:
bss_end:
