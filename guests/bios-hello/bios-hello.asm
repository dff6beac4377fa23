; bios-hello.asm - a classic boot sector that relies on PC firmware (a BIOS such as SeaBIOS).
;
; Unlike the other boot sectors here, which drive the UART themselves because vmm starts them
; without firmware, this one uses what a BIOS leaves behind: it prints through INT 10h's teletype
; service (AH = 0Eh), which SeaBIOS shows on the screen and, with its serial console, on COM1;
; and it writes straight into the VGA text buffer at B800:0000, where the BIOS has set up
; 80x25 colour text mode. Built into a raw disk image as well (bios-hello.img), so it boots as
; the first hard disk (DL = 0x80).
;
; Output (INT 10h): "Hello from the BIOS" CR LF "boot drive 0x<DL>" CR LF
; Screen:           "VGA TEXT OK" at row 5, column 0, white on blue (attribute 0x1F)
; Ends with CLI; HLT, two BIOS clock ticks (about 110 ms) after the last line.

bits 16
org 0x7C00

%include "boot-sector.inc"

VGA_TEXT_SEGMENT equ 0xB800
VGA_ROW          equ 5
VGA_ATTRIBUTE    equ 0x1F            ; white on blue

start:
    BOOT_SECTOR_ENTRY
    mov [boot_drive], dl            ; save DL before anything clobbers DX
    sti                             ; BIOS services may wait for interrupts

    mov si, msg_hello
    call bios_puts
    mov si, msg_drive
    call bios_puts
    mov al, [boot_drive]
    call bios_puthex8
    mov si, msg_crlf
    call bios_puts

    ; Character and attribute bytes, row by row, 80 columns of two bytes each.
    push es
    mov ax, VGA_TEXT_SEGMENT
    mov es, ax
    mov di, VGA_ROW * 80 * 2
    mov si, msg_vga
    mov ah, VGA_ATTRIBUTE
.vga:
    lodsb
    test al, al
    jz .vga_done
    stosw
    jmp .vga
.vga_done:
    pop es

    ; Wait for two ticks of the BIOS clock (IRQ 0 counts them at 0040:006C, 18.2 a second) before
    ; halting with interrupts off: a serial console such as SeaBIOS's holds back the last
    ; character and cursor move of INT 10h output until its next timer tick.
    mov cx, 2
.tick:
    mov ax, [0x046C]
.same_tick:
    hlt                             ; IF is set: the next interrupt ends the HLT
    cmp ax, [0x046C]
    je .same_tick
    loop .tick

halt:
    cli
    hlt
    jmp halt                        ; an NMI can resume after HLT; halt again

; bios_puts: prints the NUL-terminated string at DS:SI with INT 10h AH=0Eh (page 0).
bios_puts:
    lodsb
    test al, al
    jz .done
    mov ah, 0x0E
    mov bx, 0x0007                  ; BH = page 0, BL = colour (graphics modes only)
    int 0x10
    jmp bios_puts
.done:
    ret

; bios_puthex8: prints AL as two lowercase hex digits.
bios_puthex8:
    push ax
    shr al, 4
    call .nibble
    pop ax
    and al, 0x0F
.nibble:
    add al, '0'
    cmp al, '9'
    jbe .print
    add al, 'a' - '9' - 1
.print:
    mov ah, 0x0E
    mov bx, 0x0007
    int 0x10
    ret

msg_hello:  db "Hello from the BIOS", 13, 10, 0
msg_drive:  db "boot drive 0x", 0
msg_crlf:   db 13, 10, 0
msg_vga:    db "VGA TEXT OK", 0
boot_drive: db 0

    BOOT_SECTOR_SIGNATURE
