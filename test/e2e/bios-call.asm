; The first boot sector every OS student writes: print with the BIOS's teletype service.
%include "boot-sector.inc"
bits 16
org 0x7c00
    mov ah, 0x0e
    mov al, 'A'
    int 0x10
    hlt
    BOOT_SECTOR_SIGNATURE
