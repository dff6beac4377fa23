; Big real mode (SDM Vol. 3 §9.9.2: PE set just long enough to load a flat 4 GiB DS, then
; cleared): the guest can form any physical address below 4 GiB without paging. With 64 MiB of
; RAM, it writes and reads the first MiB above RAM, one dword per 4 KiB: open bus (reads all ones,
; writes ignored) under direct; under trap and bt, whose VMM region lies there, the access is
; refused and the run ends. Never does the guest reach the VMM's memory.
; Exits with 0x11 when it is, 0x55 when something answered.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    mov bx, 0x08
    mov ds, bx
    and al, 0xfe
    mov cr0, eax
    mov esi, 0x4000000              ; 64 MiB: the end of RAM
scan:
    mov dword [esi], 0x12345678
    a32 mov eax, [esi]
    cmp eax, 0xffffffff
    jne answered
    add esi, 0x1000
    cmp esi, 0x4100000
    jb scan
    mov al, 0x11
    out 0xf4, al
answered:
    mov al, 0x55
    out 0xf4, al
    hlt
align 8
gdt:
    dq 0
    dq 0x00cf92000000ffff             ; 0x08: flat data, 4 GiB
gdtr:
    dw gdtr - gdt - 1
    dd gdt
    times 510 - ($ - $$) db 0
    dw 0xaa55
