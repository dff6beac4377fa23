; rings.asm - protected-mode event delivery, seen from the guest (SDM Vol. 3 ch. 6).
;
; A multiboot (a.out kludge) kernel that builds its own GDT, TSS, IDT and page tables, drops to
; ring 3 with IRET and checks what reaches its ring-0 handlers:
;   1. INT 0x80 from ring 3 through a DPL-3 trap gate: the stack switches to the TSS's ESP0
;      and the frame holds the user CS (0x1B) and SS (0x23);
;   2. a read of a not-present user page: #PF with error code 0x4 (user, read, not present)
;      and CR2 = 0x00300000; the handler maps the page and the read is retried;
;   3. back in ring 0: a #GP whose IDT entry is not present becomes a double fault
;      (contributory + contributory, §6.15 Table 6-5), delivered to the #DF handler with
;      error code 0;
;   4. with the #DF entry removed too, the same fault is a triple fault: the machine shuts
;      down, which the VMM reports (nothing more is printed).

bits 32
org 0x100000

%include "multiboot-aout.inc"

section .text

KERNEL_CS    equ 0x08
KERNEL_DS    equ 0x10
USER_CS      equ 0x18 | 3
USER_DS      equ 0x20 | 3
TSS_SEL      equ 0x28
MISSING_PAGE equ 0x00300000

MULTIBOOT_AOUT_HEADER start

start:
    mov esp, kernel_stack_top
    cld
    call uart_init
    lgdt [gdtr]
    jmp KERNEL_CS:.reload
.reload:
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax

    ; TSS: the ring-0 stack for events that arrive from ring 3.
    mov dword [tss + 4], kernel_stack_top
    mov dword [tss + 8], KERNEL_DS
    mov eax, tss
    mov [gdt_tss + 2], ax
    shr eax, 16
    mov [gdt_tss + 4], al
    mov [gdt_tss + 7], ah
    mov ax, TSS_SEL
    ltr ax

    mov eax, 0x80
    mov ebx, int80_handler
    mov ecx, 0xEF00                 ; present, DPL 3, 32-bit trap gate
    call set_gate
    mov eax, 14
    mov ebx, page_fault_handler
    mov ecx, 0x8E00                 ; present, DPL 0, 32-bit interrupt gate
    call set_gate
    mov eax, 8
    mov ebx, double_fault_handler
    call set_gate
    lidt [idtr]

    ; Identity-map 4 MiB with user-accessible 4 KiB pages, except MISSING_PAGE.
    mov edi, page_table
    mov eax, 0x7                    ; present, writable, user
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [page_table + (MISSING_PAGE >> 12) * 4], 0
    mov dword [page_directory], page_table + 0x7
    mov eax, page_directory
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; To ring 3 (SDM §6.12.1: IRET pops EIP, CS, EFLAGS, ESP, SS for an outer privilege level).
    push USER_DS
    push user_stack_top
    pushfd
    push USER_CS
    push user_code
    iretd

; ------------------------------------------------------------------ ring 3
user_code:
    mov ax, USER_DS
    mov ds, ax
    mov es, ax
    mov eax, 1                      ; "print a line"
    mov esi, msg_user
    int 0x80
    mov eax, [MISSING_PAGE]         ; #PF, mapped by the handler, retried
    mov eax, 2                      ; "ring-3 part done"
    int 0x80
    jmp $

; ------------------------------------------------------------------ ring 0 handlers
; Frame from ring 3: [esp] EIP, [esp+4] CS, [esp+8] EFLAGS, [esp+12] ESP, [esp+16] SS.
int80_handler:
    push ds
    push eax
    mov ax, KERNEL_DS
    mov ds, ax
    pop eax
    cmp eax, 2
    je ring3_done
    call uart_puts
    mov esi, msg_int80
    call uart_puts
    mov esi, msg_frame_ok
    cmp dword [esp + 4 + 4], USER_CS
    jne .bad
    cmp dword [esp + 4 + 16], USER_DS
    jne .bad
    cmp esp, kernel_stack_top - 24  ; on the TSS stack: 5 frame dwords + saved DS
    je .print
.bad:
    mov esi, msg_frame_bad
.print:
    call uart_puts
    pop ds
    iretd

; Frame: [esp] error code, [esp+4] EIP, [esp+8] CS, ...
page_fault_handler:
    push eax
    mov esi, msg_pf
    call uart_puts
    mov esi, msg_frame_ok
    cmp dword [esp + 4], 0x4        ; user, read, not present
    jne .bad
    mov eax, cr2
    cmp eax, MISSING_PAGE
    jne .bad
    cmp dword [esp + 4 + 8], USER_CS
    je .print
.bad:
    mov esi, msg_frame_bad
.print:
    call uart_puts
    mov dword [page_table + (MISSING_PAGE >> 12) * 4], MISSING_PAGE | 0x7
    invlpg [MISSING_PAGE]
    pop eax
    add esp, 4                      ; the error code
    iretd

ring3_done:
    mov esp, kernel_stack_top
    mov esi, msg_ring3_done
    call uart_puts
    ; Remove the #GP gate: the #GP below faults again during delivery (#GP for a gate that is
    ; not a valid gate type), which makes a double fault.
    mov dword [idt + 13 * 8 + 4], 0
    mov ax, 0x1234
    mov ds, ax                      ; #GP(0x1234)
    jmp $

; #DF is an abort: no return. Frame: [esp] error code (always 0).
double_fault_handler:
    mov ax, KERNEL_DS
    mov ds, ax
    mov esi, msg_df
    call uart_puts
    mov esi, msg_frame_ok
    cmp dword [esp], 0
    je .print
    mov esi, msg_frame_bad
.print:
    call uart_puts
    mov esp, kernel_stack_top
    mov esi, msg_triple
    call uart_puts
    mov dword [idt + 8 * 8 + 4], 0  ; no #DF handler any more
    mov ax, 0x1234
    mov ds, ax                      ; #GP -> fault -> #DF -> fault: shutdown
    jmp $

; set_gate: EAX vector, EBX handler, ECX type/attribute word (bits 8-15 of the high dword)
set_gate:
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], KERNEL_CS
    mov [edi + 4], cx
    shr ebx, 16
    mov [edi + 6], bx
    ret

%include "uart.inc"

msg_user:       db "hello from ring 3", 10, 0
msg_int80:      db "int 0x80 from ring 3: ", 0
msg_pf:         db "page fault from ring 3: ", 0
msg_ring3_done: db "ring 3 done", 10, 0
msg_df:         db "double fault: ", 0
msg_triple:     db "now a triple fault", 10, 0
msg_frame_ok:   db "frame ok", 10, 0
msg_frame_bad:  db "frame BAD", 10, 0

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08 ring-0 code
    dq 0x00CF92000000FFFF           ; 0x10 ring-0 data
    dq 0x00CFFA000000FFFF           ; 0x18 ring-3 code
    dq 0x00CFF2000000FFFF           ; 0x20 ring-3 data
gdt_tss:
    dw 103, 0                       ; 0x28 32-bit TSS (base patched at run time)
    db 0, 0x89, 0, 0
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd gdt
idtr:
    dw 256 * 8 - 1
    dd idt

load_end:

section .bss align=4096
page_directory: resb 4096
page_table:     resb 4096
idt:            resb 256 * 8
tss:            resb 104
alignb 16
                resb 4096
kernel_stack_top:
                resb 4096
user_stack_top:
bss_end:
