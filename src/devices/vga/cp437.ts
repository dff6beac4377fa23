// Code page 437, the character set of the VGA's ROM font (IBM PC Technical Reference), as
// Unicode: what each character code looks like on the screen, the control codes' glyphs (0x01
// to 0x1F, 0x7F) included. Codes 0x00 and 0xFF are blank glyphs and come out as spaces.

const TABLE =
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' + // 0x00
  ' !"#$%&\'()*+,-./0123456789:;<=>?' + // 0x20
  '@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_' + // 0x40
  '`abcdefghijklmnopqrstuvwxyz{|}~⌂' + // 0x60
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ' + // 0x80
  'áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' + // 0xA0
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' + // 0xC0
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ '; // 0xE0

/** The Unicode character that looks like CP437 code `code` (0-255). */
export function cp437(code: number): string {
  return TABLE[code & 0xff];
}
