; A guest that arms an instruction breakpoint (DR0 = the next instruction, DR7 L0|G0 with R/W0 =
; 00), runs on through it, reads DR7 back and leaves through the debug-exit port: value 0 when
; DR7 holds what it wrote, 1 otherwise. (Unicorn flushed every translation under the running
; block for such a write, and the host process crashed.)
bits 32
org 0x100000
    mov eax, target
    mov dr0, eax
    mov eax, 0x403                  ; L0, G0; bit 10 reads as 1
    mov dr7, eax
target:
    nop
    mov ebx, dr7
    xor eax, eax                    ; disarm it again
    mov dr7, eax
    xor al, al
    cmp ebx, 0x403
    je .out
    inc al
.out:
    out 0xF4, al
    hlt
