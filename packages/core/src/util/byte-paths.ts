// File names on Linux are bytes, not text. A name that is not valid UTF-8 cannot round-trip
// through a JS string (Node turns each bad byte into U+FFFD, and then opens another name), so
// such a name is shown and stored escaped, `\xHH` per byte that is not UTF-8 and `\\` for a
// backslash, and opened by its bytes: walks read folders as Buffers, and command-line
// arguments get their bytes back from /proc/self/cmdline. Valid UTF-8 names stay as they are.
// Control characters (C0, DEL, C1) are escaped the same way wherever a name is printed for a
// person (displayPath, displayMessage): a name must never move the cursor, rewrite a line or send
// an escape sequence to the terminal that shows it. JSON output keeps the names as they are.
import { existsSync, readFileSync } from 'node:fs';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Escaped text → raw bytes, for the names this process met that are not UTF-8. */
const rawByName = new Map<string, Buffer>();

/** A name's text: itself when it is UTF-8, else the escaped form (which opens it via fsPath). */
export function nameText(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const text = escapeBytes(bytes);
    rawByName.set(text, bytes);
    return text;
  }
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** `\xHH` for each UTF-8 byte of the text. */
function hexBytes(text: string): string {
  return [...Buffer.from(text)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
}

/**
 * A name as the CLI prints it for a person: as it is, unless it holds a control character; then
 * escaped like a name that is not UTF-8 (`\xHH` per byte of each control character, `\\` for
 * a backslash), so it cannot drive the terminal and reads unambiguously.
 */
export function displayPath(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(CONTROLS, hexBytes);
}

/**
 * A message as one line for the terminal: the file it names (`path`) shown as displayPath()
 * shows it, line breaks (a multi-line cause) joined with a space, any other control character
 * escaped as `\xHH`.
 */
export function displayMessage(message: string, path?: string): string {
  const named = path !== undefined && path !== '' && CONTROL.test(path) ? message.split(path).join(displayPath(path)) : message;
  return named.replace(/\s*\n\s*/g, ' ').trim().replace(CONTROLS, hexBytes);
}

/** What opens the file a text names: its raw bytes when it is an escaped name met before. */
export function fsPath(text: string): string | Buffer {
  return rawByName.get(text) ?? text;
}

/**
 * What opens a path as the catalog stores it: the text itself, or the bytes of a name stored
 * escaped. A valid UTF-8 name that merely looks escaped (a literal `\x41`) exists under its text,
 * which therefore wins.
 */
export function storedFsPath(text: string): string | Buffer {
  const known = rawByName.get(text);
  if (known !== undefined) return known;
  if (!text.includes('\\') || existsSync(text)) return text;
  const bytes = unescapeText(text);
  if (bytes === null) return text;
  try {
    utf8.decode(bytes);
    return text; // escaping changed nothing that needed it: not one of ours
  } catch {
    return bytes;
  }
}

/** Inverse of escapeBytes; null when the text holds a backslash that is no escape. */
function unescapeText(text: string): Buffer | null {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < text.length) {
    const slash = text.indexOf('\\', i);
    if (slash === -1) {
      parts.push(Buffer.from(text.slice(i)));
      break;
    }
    parts.push(Buffer.from(text.slice(i, slash)));
    if (text[slash + 1] === '\\') {
      parts.push(Buffer.from('\\'));
      i = slash + 2;
    } else if (text[slash + 1] === 'x' && /^[0-9a-f]{2}$/.test(text.slice(slash + 2, slash + 4))) {
      parts.push(Buffer.from([parseInt(text.slice(slash + 2, slash + 4), 16)]));
      i = slash + 4;
    } else {
      return null;
    }
  }
  return Buffer.concat(parts);
}

/** `parent/name` as bytes (to open it) and as text (to show and store it). */
export function joinName(parent: { bytes: Buffer; text: string }, name: Buffer): { bytes: Buffer; text: string } {
  const sep = parent.text.endsWith('/') ? '' : '/';
  let nameText: string;
  try {
    nameText = utf8.decode(name);
  } catch {
    nameText = escapeBytes(name);
  }
  return { bytes: Buffer.concat([parent.bytes, Buffer.from(sep), name]), text: `${parent.text}${sep}${nameText}` };
}

/**
 * process.argv with every argument that lost bytes to UTF-8 decoding replaced by its escaped
 * form, which fsPath() opens by the original bytes. Elsewhere than Linux, argv as it is.
 */
export function recoverArgv(argv: readonly string[]): string[] {
  if (!argv.some((a) => a.includes('\uFFFD'))) return [...argv];
  let cmdline: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
  } catch {
    return [...argv];
  }
  const parts = splitNul(cmdline);
  // cmdline is [node, ...execArgv, script, ...args]; argv is [execPath, script, ...args].
  const args = argv.length - 2;
  if (args <= 0 || parts.length < args) return [...argv];
  const rawArgs = parts.slice(parts.length - args);
  return argv.map((a, i) => {
    if (i < 2 || !a.includes('\uFFFD')) return a;
    const raw = rawArgs[i - 2] as Buffer;
    if (raw.toString('utf8') !== a) return a; // not the same argument: leave it alone
    const text = nameText(raw);
    // --opt=VALUE: the value alone is a path too.
    const eq = raw.indexOf(0x3d);
    if (text.startsWith('--') && eq > 0) nameText(raw.subarray(eq + 1));
    return text;
  });
}

function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

function escapeBytes(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const char = charAt(bytes, i);
    if (char === null) {
      out += `\\x${(bytes[i] as number).toString(16).padStart(2, '0')}`;
      i++;
    } else {
      out += char.text === '\\' ? '\\\\' : CONTROL.test(char.text) ? hexBytes(char.text) : char.text;
      i += char.length;
    }
  }
  return out;
}

/** The UTF-8 character starting at i, or null when the byte there starts none. */
function charAt(bytes: Buffer, i: number): { text: string; length: number } | null {
  for (let n = 1; n <= 4 && i + n <= bytes.length; n++) {
    try {
      return { text: utf8.decode(bytes.subarray(i, i + n)), length: n };
    } catch {
      // incomplete or invalid: try one more byte
    }
  }
  return null;
}
