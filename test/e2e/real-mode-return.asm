; Leaves protected mode for real mode and comes back, three times (SDM Vol. 3 §9.9.2: a 16-bit
; code segment, CR0.PE cleared, a far jump to real mode). Loaded flat at 0x8000 and entered in
; 32-bit protected mode, so an engine that deprivileges the kernel does so from the start; after
; each return it does again at a time slice of the spin. In real mode DS keeps the 4 GiB limit
; it had (big real mode) and adds to a word above 1 MiB through it. Exits through the
; debug-exit port with 0x2a when the word holds what the three rounds added, else 0x01.
%include "flat-gdt.inc"
bits 32
org 0x8000
    lgdt [gdtr]
    jmp 0x08:protected
protected:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [0x200000], 0x11111111
    mov ecx, 3
round:
    mov edx, 10000000               ; time slices end here
spin:
    dec edx
    jnz spin
    jmp 0x18:protected16
bits 16
protected16:
    mov ax, 0x20                    ; 16-bit data, 4 GiB limit
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0x0000:real
real:
    add dword [dword 0x200000], 0x11111111
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:protected_again
bits 32
protected_again:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    dec ecx
    jnz round
    mov al, 0x2a
    cmp dword [0x200000], 0x44444444
    je done
    mov al, 0x01
done:
    out 0xf4, al
    hlt
align 8
gdt:
    FLAT_GDT_ENTRIES
    dq 0x00009a000000ffff             ; 0x18: 16-bit code, base 0, 64 KiB
    dq 0x008f92000000ffff             ; 0x20: 16-bit data, base 0, 4 GiB
gdtr:
    dw gdtr - gdt - 1
    dd gdt
