; vga-bios-boot.asm - a boot sector that does what SeaBIOS does with a PCI VGA's option ROM,
; then uses it: finds `pci1234,1111.rom` in QEMU's fw_cfg file directory (traditional
; interface: a 16-bit key to 0x510, then bytes from 0x511; the directory is big-endian),
; copies it to C000:0000, calls its initialisation entry at C000:0003 with AX = the VGA's
; bus/device/function (00:02.0, 0x0010), then sets mode 3 and writes "VGA BIOS OK" through
; INT 10h teletype output. Exits through the debug-exit port: 0 on success, 1 if no ROM file.

bits 16
org 0x7C00

FW_CFG_SELECTOR equ 0x510
FW_CFG_DATA     equ 0x511
FW_CFG_FILE_DIR equ 0x19
ENTRY_BYTES     equ 64
VGA_BDF         equ 0x0010
EXIT_PORT       equ 0xF4

start:
    cli
    jmp 0x0000:.flat
.flat:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld

    mov dx, FW_CFG_SELECTOR
    mov ax, FW_CFG_FILE_DIR
    out dx, ax
    mov dx, FW_CFG_DATA
    in al, dx                       ; the count's two high bytes (a few files here)
    in al, dx
    in al, dx
    mov ch, al
    in al, dx
    mov cl, al
.next:
    jcxz .missing
    dec cx
    push cx
    mov di, entry
    mov cx, ENTRY_BYTES
    rep insb
    mov si, entry + 8
    mov di, rom_name
    mov cx, rom_name_bytes
    repe cmpsb
    pop cx
    jne .next

    mov ax, [entry + 4]             ; its key, big-endian
    xchg al, ah
    mov dx, FW_CFG_SELECTOR
    out dx, ax
    mov cx, [entry + 2]             ; its size's low 16 bits, big-endian
    xchg cl, ch
    mov ax, 0xC000
    mov es, ax
    xor di, di
    mov dx, FW_CFG_DATA
    rep insb

    mov ax, VGA_BDF
    call 0xC000:0x0003              ; the ROM's initialisation returns with a far return

    mov ax, 0x0003                  ; set mode 3
    int 0x10
    xor ax, ax
    mov ds, ax
    mov si, message
.print:
    lodsb
    test al, al
    jz .done
    mov ah, 0x0E                    ; teletype output, page 0
    mov bx, 0x0007
    int 0x10
    jmp .print
.done:
    mov al, 0
    out EXIT_PORT, al
.missing:
    mov al, 1
    out EXIT_PORT, al
.halt:
    cli
    hlt
    jmp .halt

rom_name:       db "pci1234,1111.rom", 0
rom_name_bytes  equ $ - rom_name
message:        db "VGA BIOS OK", 0
entry:          times ENTRY_BYTES db 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
