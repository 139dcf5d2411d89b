/**
 * Prompt clean-up done before tokenising, as diffusers' Wan pipelines do (prompt_clean):
 * HTML entities unescaped twice, trimmed, every whitespace run collapsed to one space.
 *
 * Not done: ftfy.fix_text (mojibake repair, quote/ligature fixes). It is a large heuristic
 * library; a prompt that needs it (e.g. "cafÃ©") keeps its broken characters here.
 *
 * Entities follow Python's html.unescape: numeric references with its rules for invalid code
 * points (Windows-1252 for 128..159, U+FFFD for 0, surrogates and > U+10FFFF, nothing for
 * noncharacters and most C0/C1 controls), and named references with the longest-prefix rule for
 * the legacy names that may omit the ';'. Named references are the HTML 4 set (252 names, with
 * HTML5's values for lang/rang) plus &apos; and the upper-case AMP, COPY, GT, LT, QUOT, REG;
 * the ~2,000 names that only HTML5 defines (e.g. &NotEqualTilde;) are left as written.
 */

// Python's str.isspace() set, which its re '\s' and str.strip() use (JS '\s' differs: it lacks
// U+001C..U+001F and U+0085 and has U+FEFF).
const PY_SPACE = '\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu');
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');

// name:hex code point, for the names that take a ';'.
const NAMED_TABLE =
  'AElig:c6 AMP:26 Aacute:c1 Acirc:c2 Agrave:c0 Alpha:391 Aring:c5 Atilde:c3 Auml:c4 Beta:392 ' +
  'COPY:a9 Ccedil:c7 Chi:3a7 Dagger:2021 Delta:394 ETH:d0 Eacute:c9 Ecirc:ca Egrave:c8 Epsilon:395 ' +
  'Eta:397 Euml:cb GT:3e Gamma:393 Iacute:cd Icirc:ce Igrave:cc Iota:399 Iuml:cf Kappa:39a LT:3c ' +
  'Lambda:39b Mu:39c Ntilde:d1 Nu:39d OElig:152 Oacute:d3 Ocirc:d4 Ograve:d2 Omega:3a9 Omicron:39f ' +
  'Oslash:d8 Otilde:d5 Ouml:d6 Phi:3a6 Pi:3a0 Prime:2033 Psi:3a8 QUOT:22 REG:ae Rho:3a1 Scaron:160 ' +
  'Sigma:3a3 THORN:de Tau:3a4 Theta:398 Uacute:da Ucirc:db Ugrave:d9 Upsilon:3a5 Uuml:dc Xi:39e ' +
  'Yacute:dd Yuml:178 Zeta:396 aacute:e1 acirc:e2 acute:b4 aelig:e6 agrave:e0 alefsym:2135 ' +
  'alpha:3b1 amp:26 and:2227 ang:2220 apos:27 aring:e5 asymp:2248 atilde:e3 auml:e4 bdquo:201e ' +
  'beta:3b2 brvbar:a6 bull:2022 cap:2229 ccedil:e7 cedil:b8 cent:a2 chi:3c7 circ:2c6 clubs:2663 ' +
  'cong:2245 copy:a9 crarr:21b5 cup:222a curren:a4 dArr:21d3 dagger:2020 darr:2193 deg:b0 delta:3b4 ' +
  'diams:2666 divide:f7 eacute:e9 ecirc:ea egrave:e8 empty:2205 emsp:2003 ensp:2002 epsilon:3b5 ' +
  'equiv:2261 eta:3b7 eth:f0 euml:eb euro:20ac exist:2203 fnof:192 forall:2200 frac12:bd frac14:bc ' +
  'frac34:be frasl:2044 gamma:3b3 ge:2265 gt:3e hArr:21d4 harr:2194 hearts:2665 hellip:2026 ' +
  'iacute:ed icirc:ee iexcl:a1 igrave:ec image:2111 infin:221e int:222b iota:3b9 iquest:bf ' +
  'isin:2208 iuml:ef kappa:3ba lArr:21d0 lambda:3bb lang:27e8 laquo:ab larr:2190 lceil:2308 ' +
  'ldquo:201c le:2264 lfloor:230a lowast:2217 loz:25ca lrm:200e lsaquo:2039 lsquo:2018 lt:3c ' +
  'macr:af mdash:2014 micro:b5 middot:b7 minus:2212 mu:3bc nabla:2207 nbsp:a0 ndash:2013 ne:2260 ' +
  'ni:220b not:ac notin:2209 nsub:2284 ntilde:f1 nu:3bd oacute:f3 ocirc:f4 oelig:153 ograve:f2 ' +
  'oline:203e omega:3c9 omicron:3bf oplus:2295 or:2228 ordf:aa ordm:ba oslash:f8 otilde:f5 ' +
  'otimes:2297 ouml:f6 para:b6 part:2202 permil:2030 perp:22a5 phi:3c6 pi:3c0 piv:3d6 plusmn:b1 ' +
  'pound:a3 prime:2032 prod:220f prop:221d psi:3c8 quot:22 rArr:21d2 radic:221a rang:27e9 raquo:bb ' +
  'rarr:2192 rceil:2309 rdquo:201d real:211c reg:ae rfloor:230b rho:3c1 rlm:200f rsaquo:203a ' +
  'rsquo:2019 sbquo:201a scaron:161 sdot:22c5 sect:a7 shy:ad sigma:3c3 sigmaf:3c2 sim:223c ' +
  'spades:2660 sub:2282 sube:2286 sum:2211 sup:2283 sup1:b9 sup2:b2 sup3:b3 supe:2287 szlig:df ' +
  'tau:3c4 there4:2234 theta:3b8 thetasym:3d1 thinsp:2009 thorn:fe tilde:2dc times:d7 trade:2122 ' +
  'uArr:21d1 uacute:fa uarr:2191 ucirc:fb ugrave:f9 uml:a8 upsih:3d2 upsilon:3c5 uuml:fc ' +
  'weierp:2118 xi:3be yacute:fd yen:a5 yuml:ff zeta:3b6 zwj:200d zwnj:200c';
// Names that HTML also accepts without the ';' (and that may prefix other text: "&copy2024").
const LEGACY_TABLE =
  'AElig AMP Aacute Acirc Agrave Aring Atilde Auml COPY Ccedil ETH Eacute Ecirc Egrave Euml GT ' +
  'Iacute Icirc Igrave Iuml LT Ntilde Oacute Ocirc Ograve Oslash Otilde Ouml QUOT REG THORN Uacute ' +
  'Ucirc Ugrave Uuml Yacute aacute acirc acute aelig agrave amp aring atilde auml brvbar ccedil ' +
  'cedil cent copy curren deg divide eacute ecirc egrave eth euml frac12 frac14 frac34 gt iacute ' +
  'icirc iexcl igrave iquest iuml laquo lt macr micro middot nbsp not ntilde oacute ocirc ograve ' +
  'ordf ordm oslash otilde ouml para plusmn pound quot raquo reg sect shy sup1 sup2 sup3 szlig ' +
  'thorn times uacute ucirc ugrave uml uuml yacute yen yuml';

const NAMED = new Map<string, string>();
for (const item of NAMED_TABLE.split(' ')) {
  const [name, hex] = item.split(':') as [string, string];
  NAMED.set(name, String.fromCodePoint(parseInt(hex, 16)));
}
const LEGACY = new Set(LEGACY_TABLE.split(' '));

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;
// Windows-1252 for bytes 0x80..0x9F (the five it leaves undefined map to themselves). Spelled out
// because Node's TextDecoder('windows-1252') decodes as Latin-1.
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function isNoncharacterOrControl(cp: number): boolean {
  if ((cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f)) return true;
  if (cp >= 0xfdd0 && cp <= 0xfdef) return true;
  return (cp & 0xfffe) === 0xfffe; // U+xxFFFE and U+xxFFFF of every plane
}

function numericRef(body: string): string {
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
  const cp = parseInt(digits, hex ? 16 : 10);
  if (cp === 0) return '\ufffd';
  if (cp === 0x0d) return '\r';
  if (cp >= 0x80 && cp <= 0x9f) return CP1252_HIGH[cp - 0x80]!; // what browsers do
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
  if (isNoncharacterOrControl(cp)) return '';
  return String.fromCodePoint(cp);
}

function namedRef(body: string): string {
  if (body.endsWith(';')) {
    const hit = NAMED.get(body.slice(0, -1));
    if (hit !== undefined) return hit;
  } else if (LEGACY.has(body)) {
    return NAMED.get(body)!;
  }
  // the longest legacy name that starts the text, the rest kept: "&notit;" -> "\u00acit;"
  const chars = [...body];
  for (let n = chars.length - 1; n > 1; n--) {
    const head = chars.slice(0, n).join('');
    if (LEGACY.has(head)) return NAMED.get(head)! + chars.slice(n).join('');
  }
  return '&' + body;
}

/** One pass of HTML entity unescaping (Python's html.unescape, HTML 4 names). */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_m, body: string) => (body[0] === '#' ? numericRef(body) : namedRef(body)));
}

/** Collapses every whitespace run (Python's definition) to one space and trims. */
export function collapseWhitespace(text: string): string {
  return text.replace(SPACE_RUN, ' ').replace(EDGE_SPACE, '');
}

/** The prompt as the Wan pipelines give it to the tokenizer (minus ftfy; see the file comment). */
export function cleanPrompt(text: string): string {
  const unescaped = unescapeHtml(unescapeHtml(text)).replace(EDGE_SPACE, '');
  return collapseWhitespace(unescaped);
}
