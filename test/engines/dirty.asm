; Writes a known set of pages, halts (the trap engine's HLT exit), then writes another set.
bits 32
org 0x100000
    mov eax, 0x5a5a5a5a
    mov [0x200000], eax
    mov [0x203ffc], eax
    mov [0x207010], al
    mov ebx, [0x209000]      ; a read: not dirty
    hlt
    mov [0x203000], eax
    mov [0x300000], eax
    hlt
