// `--initrd` for a multiboot kernel: a list of boot modules in QEMU's vocabulary (its `-initrd`
// under `-kernel`): entries separated by commas (",," for a comma inside one), each a file name
// and, after a space, arguments. The module's string (Multiboot Specification §3.3) is the whole
// entry, file name first, as QEMU and GRUB pass it.

export interface ModuleEntry {
  path: string;
  /** The module's string: the entry as given. */
  cmdline: string;
}

export function parseModuleList(spec: string): ModuleEntry[] {
  const entries: string[] = [];
  let current = '';
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === ',' && spec[i + 1] === ',') {
      current += ',';
      i++;
    } else if (spec[i] === ',') {
      entries.push(current);
      current = '';
    } else {
      current += spec[i];
    }
  }
  entries.push(current);
  return entries.map((entry) => {
    const cmdline = entry.trim();
    const space = cmdline.search(/\s/);
    return { path: space < 0 ? cmdline : cmdline.slice(0, space), cmdline };
  });
}
