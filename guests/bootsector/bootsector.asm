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

start:
    cli
    jmp 0x0000:.flat                ; canonicalise CS:IP to 0000:7C00 so `org` holds
.flat:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00                  ; stack grows down below the boot sector
    cld
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

    times 510 - ($ - $$) db 0
    dw 0xAA55                       ; boot signature: bytes 0x55 0xAA at offset 510
