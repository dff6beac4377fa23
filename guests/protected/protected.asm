; protected.asm - boot sector that enters 32-bit protected mode and turns on
; paging with 4 KiB pages, then proves the MMU translates by writing through
; an alias mapping and reading back through the identity mapping.
;
; Memory layout (all physical, below 1 MiB so A20 does not matter):
;   0x07C00  this sector (stack grows down from here)
;   0x10000  page directory
;   0x11000  page table: 1024 x 4 KiB pages = identity map of 0..4 MiB
;   0x12000  marker buffer
; Page-directory entries 0 and 1 both point at the same page table, so virtual
; 0x00000000-0x003FFFFF and 0x00400000-0x007FFFFF both map physical 0..4 MiB.
;
; Output: "protected mode\n" "paging on\n" "alias ok\n" (or "alias BAD\n"),
; then exit through isa-debug-exit with value 0 (QEMU status 1).

bits 16
org 0x7C00

CODE_SEL    equ 0x08
DATA_SEL    equ 0x10

PAGE_DIR    equ 0x10000
PAGE_TABLE  equ 0x11000
MARKER      equ 0x12000
ALIAS_BASE  equ 0x00400000          ; virtual address of the second 4 MiB region
PTE_P_RW    equ 0x003               ; present | writable (supervisor)
CR0_PE      equ 0x00000001
CR0_PG      equ 0x80000000
EXIT_PORT   equ 0xF4

start:
    cli                             ; SDM Vol. 3 §9.9.1: interrupts off first; we
    jmp 0x0000:.flat                ; never load an IDT, so they stay off
.flat:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld

    ; SDM Vol. 3 §9.9.1: LGDT, set CR0.PE, then a far JMP, which serialises the
    ; processor and loads CS with a 32-bit code segment. Until that JMP the CPU
    ; runs on with the real-mode CS it had: a spin of some tens of milliseconds
    ; in between, long enough for a VMM to stop the guest there (it must not
    ; take it for a protected-mode one yet).
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    mov ecx, 3000000
.spin:
    a32 loop .spin
    jmp CODE_SEL:pm_entry

bits 32
pm_entry:
    ; §9.9.1: the data segment registers still hold real-mode values; reload them.
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7C00

    call uart_init
    mov esi, msg_pm
    call uart_puts

    ; Page directory: clear it, then PDE 0 (identity) and PDE 1 (alias) both
    ; reference the one page table (32-bit paging, SDM Vol. 3 §4.3; PS=0 so
    ; the PDEs point at page tables rather than mapping 4 MiB pages).
    mov edi, PAGE_DIR
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PAGE_DIR + 0*4], PAGE_TABLE | PTE_P_RW
    mov dword [PAGE_DIR + 1*4], PAGE_TABLE | PTE_P_RW

    ; Page table: entry i maps the 4 KiB page at physical i * 4096.
    mov edi, PAGE_TABLE
    mov eax, PTE_P_RW
    mov ecx, 1024
.fill_pt:
    stosd
    add eax, 0x1000
    loop .fill_pt

    ; CR3 = page directory, then CR0.PG. This code runs from an identity-
    ; mapped page, so the instruction after MOV CR0 is fetched from the same
    ; place with paging on (SDM Vol. 3 §9.9.1 requires this identity mapping).
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    jmp .paged                      ; flush prefetched instructions (i386-era rule)
.paged:
    mov esi, msg_pg
    call uart_puts

    ; Clear the marker buffer through the identity map, write the marker
    ; through the alias, read it back through the identity map. Without
    ; translation the write would land at physical 0x412000 and the compare
    ; would see zeroes.
    mov edi, MARKER
    xor eax, eax
    mov ecx, marker_len
    rep stosb
    mov esi, marker
    mov edi, ALIAS_BASE + MARKER
    mov ecx, marker_len
    rep movsb
    mov esi, marker
    mov edi, MARKER
    mov ecx, marker_len
    repe cmpsb
    mov esi, msg_ok
    je .report
    mov esi, msg_bad
.report:
    call uart_puts

    mov al, 0                       ; isa-debug-exit: status (0 << 1) | 1 = 1
    out EXIT_PORT, al
.halt:
    cli                             ; no debug-exit device: just stop
    hlt
    jmp .halt

%include "uart.inc"

; Flat 4 GiB segments (SDM Vol. 3 §3.4.5): G=1, D/B=1, limit 0xFFFFF pages, base 0.
align 8
gdt:
    dq 0                            ; null descriptor
    dq 0x00CF9A000000FFFF           ; 0x08: code, present, DPL 0, execute/read
    dq 0x00CF92000000FFFF           ; 0x10: data, present, DPL 0, read/write
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt

msg_pm:     db "protected mode", 10, 0
msg_pg:     db "paging on", 10, 0
msg_ok:     db "alias ok", 10, 0
msg_bad:    db "alias BAD", 10, 0
marker:     db "paging alias marker 0xC0FFEE"
marker_len  equ $ - marker

    times 510 - ($ - $$) db 0
    dw 0xAA55
