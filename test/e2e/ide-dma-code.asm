; Bus master DMA over code the CPU has already run: a function at physical 8 MiB, reached only
; through a 4 MiB page at linear 1 GiB, is called once (so it is translated), then sector 0 of
; the primary master is read over it by READ DMA, and it is called again. The debug-exit port
; gets what the second call returned: 2 from the disk's function, 1 from a stale translation,
; 0x7f if the transfer failed.
bits 32
org 0x100000

PD      equ 0x00300000
PRD     equ 0x00301000
TARGET  equ 0x00800000          ; physical: where the sector lands
ALIAS   equ 0x40000000          ; linear: the only mapping of TARGET
BM      equ 0xc000              ; where BAR 4 is put

    ; 4 MiB pages: the first 4 MiB as they are, and ALIAS onto TARGET.
    mov edi, PD
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PD], 0x00000083
    mov dword [PD + (ALIAS >> 22) * 4], TARGET | 0x83
    mov eax, cr4
    or eax, 0x10                    ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; mov eax, 1 ; ret
    mov dword [ALIAS], 0x000001b8
    mov word [ALIAS + 4], 0xc300
    call ALIAS
    cmp eax, 1
    jne fail

    ; 00:01.1: BAR 4 at BM, I/O space and bus master enabled.
    mov dx, 0xcf8
    mov eax, 0x80000920
    out dx, eax
    mov dx, 0xcfc
    mov eax, BM
    out dx, eax
    mov dx, 0xcf8
    mov eax, 0x80000904
    out dx, eax
    mov dx, 0xcfc
    mov ax, 0x0005
    out dx, ax

    ; One descriptor: 512 bytes at TARGET, the last.
    mov dword [PRD], TARGET
    mov dword [PRD + 4], 0x80000200
    mov dx, BM + 4
    mov eax, PRD
    out dx, eax
    mov dx, BM
    mov al, 0x08                    ; the engine writes memory
    out dx, al

    ; READ DMA, LBA 0, one sector, from the master; then Start.
    mov dx, 0x1f6
    mov al, 0xe0
    out dx, al
    mov dx, 0x1f2
    mov al, 1
    out dx, al
    xor al, al
    mov dx, 0x1f3
    out dx, al
    inc dx
    out dx, al
    inc dx
    out dx, al
    mov dx, 0x1f7
    mov al, 0xc8
    out dx, al
    mov dx, BM
    mov al, 0x09
    out dx, al

poll:
    mov dx, BM + 2
    in al, dx
    test al, 0x02                   ; error
    jnz fail
    test al, 0x04                   ; interrupt
    jz poll
    mov dx, 0x1f7
    in al, dx
    test al, 0x01
    jnz fail

    call ALIAS
    out 0xf4, al
    hlt

fail:
    mov al, 0x7f
    out 0xf4, al
    hlt
