; vgatext.asm - text on the VGA's screen, as a boot sector.
;
; Writes "VGA TEXT OK" at row 12, column 34 of the 80x25 color text buffer at B800:0000 (a
; character byte, then its attribute byte: 0x1F, bright white on blue), moves the hardware cursor
; just after it through the CRT controller (registers 0x0E and 0x0F, at the port the BIOS data
; area names at 0x463), reads the location back and prints it. A machine without a VGA leaves
; 0 at 0x463: the text still goes to RAM, and the guest says that there is no VGA.
;
; Output: "vgatext: cursor at 0x03ed\n" (row 12 x 80 + column 45), or "vgatext: no VGA\n";
; then exit through the debug-exit port with value 0 (status 1).

bits 16
org 0x7C00

BDA_CRTC_PORT   equ 0x463
TEXT_SEGMENT    equ 0xB800
ROW             equ 12
COLUMN          equ 34
ATTRIBUTE       equ 0x1F
CURSOR          equ ROW * 80 + COLUMN + 11
EXIT_PORT       equ 0xF4

%include "boot-sector.inc"

start:
    BOOT_SECTOR_ENTRY
    call uart_init

    mov ax, TEXT_SEGMENT
    mov es, ax
    mov di, (ROW * 80 + COLUMN) * 2
    mov si, text
    mov ah, ATTRIBUTE
.put:
    lodsb
    test al, al
    jz .cursor
    stosw                           ; AL the character, AH its attribute
    jmp .put

.cursor:
    mov dx, [BDA_CRTC_PORT]
    test dx, dx
    jz .no_vga
    mov al, 0x0E                    ; cursor location high
    out dx, al
    inc dx
    mov al, CURSOR >> 8
    out dx, al
    dec dx
    mov al, 0x0F                    ; cursor location low
    out dx, al
    inc dx
    mov al, CURSOR & 0xFF
    out dx, al

    mov si, msg_cursor
    call uart_puts
    dec dx
    mov al, 0x0E
    out dx, al
    inc dx
    in al, dx
    call uart_puthex8
    dec dx
    mov al, 0x0F
    out dx, al
    inc dx
    in al, dx
    call uart_puthex8
    mov al, 10
    call uart_putc
    jmp .exit

.no_vga:
    mov si, msg_no_vga
    call uart_puts
.exit:
    xor al, al
    out EXIT_PORT, al
.halt:
    cli
    hlt
    jmp .halt

%include "uart.inc"

text:       db "VGA TEXT OK", 0
msg_cursor: db "vgatext: cursor at 0x", 0
msg_no_vga: db "vgatext: no VGA", 10, 0

    BOOT_SECTOR_SIGNATURE
