; pvstubs.asm - what the paravirtual kernel needs in assembly: the hypercall page the VMM fills
; (named by an ELF note, as Xen's XEN_ELFNOTE_HYPERCALL_PAGE names its), and the entry stubs of
; its trap table and event callback. Every entry ends with the iret hypercall, never IRET: at
; ring 1 IRET is a privileged instruction to a paravirtual kernel (the VMM owns EFLAGS.NT).

HYPERCALL_IRET equ 2
NOTE_HYPERCALL_PAGE equ 1

section .note.vmm note alloc noexec nowrite align=4
    dd 4                            ; name size ("VMM\0")
    dd 4                            ; descriptor size
    dd NOTE_HYPERCALL_PAGE
    db "VMM", 0
    dd hypercall_page               ; physical = linear at entry (paging off)

section .hypercall progbits alloc exec nowrite align=4096
global hypercall_page
hypercall_page:
    times 4096 db 0xCC              ; int3 until the VMM fills it

section .text progbits alloc exec nowrite align=16
bits 32
extern pv_exception
extern pv_event

; The frame pv_exception() gets (struct frame in cpu-tables.h's order): PUSHAD, vector, error
; code, then what the delivery pushed: EIP, CS, EFLAGS (and ESP, SS from ring 3).
%macro ENTRY_NO_ERROR 1
global entry_%1
entry_%1:
    push 0
    push %1
    jmp common_entry
%endmacro
%macro ENTRY_ERROR 1
global entry_%1
entry_%1:
    push %1                         ; the delivery pushed the error code
    jmp common_entry
%endmacro

ENTRY_NO_ERROR 0
ENTRY_NO_ERROR 3
ENTRY_NO_ERROR 6
ENTRY_ERROR 13
ENTRY_ERROR 14
ENTRY_NO_ERROR 128

common_entry:
    pushad
    push esp
    call pv_exception
    add esp, 4
    popad
    add esp, 8                      ; vector and error code
    jmp hypercall_page + 32 * HYPERCALL_IRET

; The event callback: entered with events masked (the VMM sets the mask); pv_event() unmasks.
global event_entry
event_entry:
    pushad
    call pv_event
    popad
    jmp hypercall_page + 32 * HYPERCALL_IRET

section .note.GNU-stack noalloc noexec nowrite progbits
