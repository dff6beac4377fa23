; Uses the top of the linear space, where the trap engine keeps its own hole: maps 0xFFFFE000
; onto physical 0x300000, stores and loads through it, and checks the stores through the
; identity mapping. Exit value 1 (status 3) when all is as on real hardware, 2 otherwise.
bits 32
org 0x100000
    mov edi, 0x200000              ; page directory
    xor eax, eax
    mov ecx, 2048
    rep stosd                      ; clears the PD and the PT after it
    mov dword [0x200000], 0x83     ; 0-4 MiB: 4 MiB page, present, writable
    mov dword [0x200000 + 1023 * 4], 0x201003  ; 0xFFC00000-: the page table at 0x201000
    mov dword [0x201000 + 1022 * 4], 0x300003  ; 0xFFFFE000 -> 0x300000
    mov eax, cr4
    or eax, 0x10                   ; PSE
    mov cr4, eax
    mov eax, 0x200000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [0xffffe010], 0x12345678
    mov byte [0xffffe020], 0xab
    mov ecx, 0xcafef00d
    mov [0xffffe030], ecx
    mov edx, [0xffffe010]
    mov bl, [0xffffe020]
    mov al, 2
    cmp edx, 0x12345678
    jne .out
    cmp bl, 0xab
    jne .out
    cmp dword [0x300030], 0xcafef00d
    jne .out
    cmp byte [0x300020], 0xab
    jne .out
    mov al, 1
.out:
    out 0xf4, al
