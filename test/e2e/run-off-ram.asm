; Jumps to 6 bytes before the end of a 64 MiB guest's RAM, where zeros decode as
; `add [eax], al`: the run goes off the end of RAM into open bus at 0x04000000.
bits 32
org 0x100000
    xor eax, eax
    mov esp, 0x90000
    jmp 0x3FFFFFA
