; kernel.asm - flat-binary multiboot v1 kernel using the "a.out kludge".
;
; Header flag bit 16 tells the loader to ignore the image's format and use the
; address fields in the header instead (Multiboot spec §3.1.3):
;   header_addr   where the header itself is loaded (locates the file offset)
;   load_addr     where the file's first byte goes   (= 1 MiB here)
;   load_end_addr end of the bytes to load from the file
;   bss_end_addr  the loader zeroes [load_end_addr, bss_end_addr)
;   entry_addr    where to jump
; The bss is not in the file at all, so "bss zero" below is only printed if
; the loader really cleared that range.
;
; Output: "Hello from an a.out-kludge kernel\n" "bss zero\n" (or "bss dirty\n"),
; then isa-debug-exit with value 5 (QEMU status 11). On a wrong EAX magic it
; prints "bad magic\n" and exits with value 3, like the C guests.

bits 32
org 0x100000

%include "multiboot-aout.inc"

MB_BOOT_MAGIC   equ 0x2BADB002
EXIT_PORT       equ 0xF4

section .text
MULTIBOOT_AOUT_HEADER start

start:
    ; §3.2: EAX = magic, flat 32-bit segments, ESP undefined. Sum the checked
    ; bss block before anything (including the stack, which is also in bss)
    ; writes to it.
    mov ebx, eax                    ; keep the magic
    mov esi, bss_check
    mov ecx, BSS_CHECK_DWORDS
    xor edx, edx
.sum:
    or edx, [esi]
    add esi, 4
    loop .sum

    mov esp, stack_top
    cld
    call uart_init

    cmp ebx, MB_BOOT_MAGIC
    je .magic_ok
    mov esi, msg_bad_magic
    call uart_puts
    mov al, 3
    jmp exit
.magic_ok:
    mov esi, msg_hello
    call uart_puts
    mov esi, msg_bss_zero
    test edx, edx
    jz .report
    mov esi, msg_bss_dirty
.report:
    call uart_puts
    mov al, 5                       ; isa-debug-exit: status (5 << 1) | 1 = 11

exit:
    out EXIT_PORT, al
.halt:
    cli
    hlt
    jmp .halt

%include "uart.inc"

msg_hello:      db "Hello from an a.out-kludge kernel", 10, 0
msg_bss_zero:   db "bss zero", 10, 0
msg_bss_dirty:  db "bss dirty", 10, 0
msg_bad_magic:  db "bad magic", 10, 0

    align 4
load_end:                           ; everything above comes from the file

section .bss align=4
BSS_CHECK_DWORDS equ 1024
bss_check:      resd BSS_CHECK_DWORDS   ; 4 KiB that must read as zero
stack:          resb 4096
stack_top:
bss_end:
