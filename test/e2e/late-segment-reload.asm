; Enters protected mode and spins for a while before reloading SS and the data segments, which
; still hold real-mode values: time slices end there. An engine that deprivileges the guest must
; wait until SS holds a protected-mode selector. Exits through the debug-exit port with 0x2a
; after using the stack.
%include "boot-sector.inc"
%include "flat-gdt.inc"
bits 16
org 0x7c00
    BOOT_SECTOR_ENTRY
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected
bits 32
protected:
    mov ecx, 30000000
spin:
    dec ecx
    jnz spin
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7c00
    push dword 0x2a
    pop eax
    out 0xf4, al
    hlt
align 8
gdt:
    FLAT_GDT_ENTRIES
gdtr:
    dw gdtr - gdt - 1
    dd gdt
    BOOT_SECTOR_SIGNATURE
