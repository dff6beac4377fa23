; ivt.asm - real-mode event delivery through the interrupt vector table (SDM Vol. 3 §20.1.4).
;
; Installs its own handlers for INT 0x21 and for divide error (#DE, vector 0), then raises
; both. Each handler checks the frame the CPU pushed (IP, CS, FLAGS) and prints a line.
; The #DE handler moves the saved IP past the 2-byte `div cx`, since #DE is a fault whose
; saved IP points at the faulting instruction.
;
; Output: "int 0x21 via IVT: frame ok\n" "divide error via IVT: frame ok\n" "back in main\n",
; then cli; hlt.

bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    call uart_init
    mov word [0x21 * 4], int21_handler
    mov word [0x21 * 4 + 2], 0
    mov word [0 * 4], de_handler
    mov word [0 * 4 + 2], 0

    int 0x21
after_int21:
    xor cx, cx
    mov ax, 1
fault_div:
    div cx                          ; #DE
    mov si, msg_back
    call uart_puts
.halt:
    cli
    hlt
    jmp .halt

; Frame on entry: [sp] = IP, [sp+2] = CS, [sp+4] = FLAGS (pushed in the order FLAGS, CS, IP).
int21_handler:
    mov bp, sp
    mov si, msg_int21
    call uart_puts
    mov si, msg_ok
    cmp word [bp], after_int21
    jne .bad
    cmp word [bp + 2], 0
    je .print
.bad:
    mov si, msg_bad
.print:
    call uart_puts
    iret

de_handler:
    mov bp, sp
    mov si, msg_de
    call uart_puts
    mov si, msg_ok
    cmp word [bp], fault_div
    je .print
    mov si, msg_bad
.print:
    call uart_puts
    add word [bp], 2                ; resume after `div cx`
    iret

%include "uart.inc"

msg_int21: db "int 0x21 via IVT: ", 0
msg_de:    db "divide error via IVT: ", 0
msg_ok:    db "frame ok", 10, 0
msg_bad:   db "frame BAD", 10, 0
msg_back:  db "back in main", 10, 0

times 510 - ($ - $$) db 0
dw 0xAA55
