; bootsector.asm - minimal real-mode boot sector.
;
; A PC BIOS loads sector 0 of the boot disk to physical 0x7C00 and jumps to it
; in real mode with DL = BIOS drive number (0x80 = first hard disk). Nothing
; else about the machine state is guaranteed (CS:IP may be 0000:7C00 or
; 07C0:0000, the stack is the BIOS's), so we set up segments and a stack
; ourselves. No BIOS interrupts are used: the VMM has no BIOS, so all output
; goes straight to the COM1 UART.
;
; Output:  "Hello from a real-mode boot sector\n" "boot drive 0x<DL>\n"
; Ends with CLI; HLT - halted with interrupts disabled, which the VMM treats
; as the end of the run.

bits 16
org 0x7C00

%include "boot-sector.inc"

start:
    BOOT_SECTOR_ENTRY
    mov [boot_drive], dl            ; save DL before anything clobbers DX

    call uart_init
    mov si, msg_hello
    call uart_puts
    mov si, msg_drive
    call uart_puts
    mov al, [boot_drive]
    call uart_puthex8
    mov al, 10
    call uart_putc

halt:
    cli
    hlt
    jmp halt                        ; an NMI can resume after HLT; halt again

%include "uart.inc"

msg_hello:  db "Hello from a real-mode boot sector", 10, 0
msg_drive:  db "boot drive 0x", 0
boot_drive: db 0

    BOOT_SECTOR_SIGNATURE
