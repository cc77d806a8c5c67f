/** Python's repr() of a string, so messages that quote input read exactly as the server's. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === "\\") out += "\\\\";
    else if (char === quote) out += "\\" + quote;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += char;
  }
  return quote + out + quote;
}

/** Python's len(): code points, not UTF-16 units. */
export function pyLen(text: string): number {
  let length = 0;
  for (const char of text) length += char ? 1 : 0;
  return length;
}
