// Character tests for names and numbers the calls check before any change, by hand: a regular
// expression is compiled on its first use, and in a process that lives one call every use is a
// first use.

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isAlnum = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** What a JavaScript regular expression's \s matches. */
export const isSpace = (c: number): boolean =>
  (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;

/** 1 to `max` decimal digits, nothing else. */
export function isDigits(s: string, max = Infinity): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/**
 * A container ID or network name as libcni allows them: /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
 * (from `start` to `end` of s).
 */
export function isIdentifier(s: string, start = 0, end = s.length): boolean {
  if (end <= start || !isAlnum(s.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== 95 && c !== 46 && c !== 45) return false;
  }
  return true;
}

/** Any of / : whitespace NUL (what an interface name must not hold). */
export function hasIfnameForbidden(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 || c === 58 || c === 0 || isSpace(c)) return true;
  }
  return false;
}

/** /^[A-Za-z0-9_.@-]{1,15}$/: an interface name as configs may give one. */
export function isIfname(s: string): boolean {
  if (s.length < 1 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== 95 && c !== 46 && c !== 64 && c !== 45) return false;
  }
  return true;
}
