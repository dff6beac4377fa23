; SMSW with a register destination, at CPL 0 in real mode: into a 32-bit register it stores all of
; CR0 (as Intel CPUs since the Pentium and QEMU do), into a 16-bit register and into memory only
; CR0's low 16 bits, the rest of the destination kept. CR0.CD (bit 30) is set to tell the halves
; apart. Exits through the debug-exit port with 0x2a when all hold, else with the number of the
; first check that failed.
%include "boot-sector.inc"
bits 16
org 0x7c00
    BOOT_SECTOR_ENTRY
    mov eax, cr0
    or eax, 0x40000000              ; CD
    mov cr0, eax
    mov esi, eax                    ; CR0 as MOV reads it
    mov ebx, 0x12345678
    smsw ebx
    mov al, 1
    cmp ebx, esi
    jne fail
    mov ecx, 0xa5a50000
    smsw cx
    mov al, 2
    mov edx, esi
    and edx, 0xffff
    or edx, 0xa5a50000
    cmp ecx, edx
    jne fail
    mov dword [word0], 0xa5a5a5a5
    smsw [word0]
    mov al, 3
    mov edx, esi
    and edx, 0xffff
    or edx, 0xa5a50000
    cmp [word0], edx
    jne fail
    db 0x2e, 0x66, 0x0f, 0x01, 0xe7 ; cs o32 smsw edi: a segment prefix changes nothing
    mov al, 4
    cmp edi, esi
    jne fail
    mov al, 0x2a
fail:
    out 0xf4, al
    hlt
align 4
word0: dd 0
    BOOT_SECTOR_SIGNATURE
