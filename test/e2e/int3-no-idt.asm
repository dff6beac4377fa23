; INT3 with an empty IDT: the delivery faults, then #DF does, and the machine shuts down. The
; report names the event the same way under every engine.
bits 32
org 0x100000
    lidt [idtr]
    int3
    hlt
idtr:
    dw 0                            ; limit 0: no gate is inside the table
    dd 0
