#!/usr/bin/python3
"""Independent reference for egox's tokenizer.json reader (src/model/text/tokenizer*.ts) and the
prompt clean-up (src/model/text/prompt-clean.ts).

What it does
  1. Builds four small test tokenizers in Hugging Face `tokenizer.json` form (Unigram model):
       unigram_a  umT5-like (2023 converter output): normalizer Sequence[Precompiled charsmap,
                  Replace(Regex " {2,}" -> " ")], Metaspace with the legacy `add_prefix_space: true`
                  (= prepend "always", split), byte fallback, TemplateProcessing "$A </s>",
                  added tokens <pad> </s> <s> <unk> <extra_id_0..2>.
       unigram_b  newer converter style: Sequence[NFKC, Strip(both), Replace(" {2,}" -> "▁"),
                  Replace("~" -> "")],
                  Metaspace prepend_scheme "first", no byte fallback (unknown -> <unk>),
                  TemplateProcessing "<s> $A </s>", added tokens with lstrip / rstrip / normalized.
       unigram_c  Precompiled (with a rule deleting U+200B) + Lowercase, Metaspace "always" with
                  split false, no post-processor.
       unigram_d  unigram_a with Metaspace prepend_scheme "first", split false.
     The Precompiled charsmap is built here by a small Darts-clone double-array builder
     (build_charsmap), so the test file exercises the same binary format as SentencePiece models.
  2. Encodes a list of texts with an independent Python implementation of the pipeline
     (added-token split, normalizers, Metaspace, unigram Viterbi with unk fusing and byte fallback,
     template, truncation, padding), written from the documented behaviour of HF `tokenizers`.
  3. If the `tokenizers` package is importable (it is not in Debian's python3; a wheel can be put on
     PYTHONPATH, e.g. PYTHONPATH=/tmp/tokwheel after unzipping tokenizers-*.whl there), it is used as
     the ORACLE: every case must give identical ids and attention masks, or the script stops.
     The committed goldens agree with tokenizers 0.22.2 and 0.23.2 on every case.
  4. Writes the prompt clean-up cases (html.unescape twice, strip, collapse whitespace runs), the way
     diffusers' Wan pipeline does it minus ftfy.

Run:  /usr/bin/python3 test/reference/tokenizer_reference.py
      PYTHONPATH=/path/to/unzipped/tokenizers-wheel /usr/bin/python3 test/reference/tokenizer_reference.py

Files written (test/golden/tokenizer/):
  unigram_{a,b,c,d}.tokenizer.json
  cases.json:
    { "oracle": "tokenizers 0.22.2" | null,
      "cases": [ { "tokenizer": "unigram_a",          # file stem above
                   "name": "ascii",                   # what the case exercises
                   "text": "...",                     # raw text given to encode (not prompt-cleaned)
                   "maxLength": 512,                  # pad / truncate length
                   "ids": [..],                       # ids WITHOUT the padding (length = true count)
                   "tokens": [..] } ] }               # token strings of ids, for messages
    Padding: the full encoding is ids + [pad id 0] * (maxLength - len(ids)); mask 1 for ids, 0 after.
  prompt_clean.json: { "cases": [ { "text": raw, "clean": prompt_clean(raw) } ] }
"""
import base64
import html
import json
import os
import random
import re
import struct
import sys
import unicodedata

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "tokenizer")
META = "\u2581"


# ------------------------------------------------------------------ Darts-clone double array
# Unit layout (32 bits): bits 0-7 label, bit 8 has_leaf, bit 9 offset is in 256ths, bits 10-31
# offset.  A value unit has bit 31 set, so its "label" never equals a byte.  The terminal value of
# a node sits at base ^ 0; the child for byte c at base ^ c; base = node position ^ offset.
def build_charsmap(rules):
    """rules: {source string: replacement string} -> precompiled_charsmap bytes."""
    items = sorted((k.encode("utf-8"), v) for k, v in rules.items())
    blob = bytearray()
    value_of = {}
    for kb, v in items:
        value_of[kb] = len(blob)
        blob += v.encode("utf-8") + b"\0"
    root = {}
    for kb, _ in items:
        node = root
        for c in kb:
            node = node.setdefault(c, {})
        node[None] = value_of[kb]
    units = [0] * 256
    used_bases = set()
    used_slots = {0}

    def place(node, pos):
        labels = sorted(c for c in node if c is not None)
        need = ([0] if None in node else []) + labels
        base = 1
        while base in used_bases or any((base ^ l) in used_slots for l in need):
            base += 1
        used_bases.add(base)
        for l in need:
            used_slots.add(base ^ l)
        while len(units) <= (base | 255):
            units.extend([0] * 256)
        offset = pos ^ base
        assert offset < (1 << 21), "test charsmap too large for the simple offset encoding"
        units[pos] |= offset << 10
        if None in node:
            units[pos] |= 1 << 8
            units[base] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
            place(node[c], base ^ c)

    place(root, 0)
    trie = b"".join(struct.pack("<I", u) for u in units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def charsmap_prefix_values(charsmap, key):
    """Values of every key that is a prefix of `key` (bytes), shortest first."""
    (size,) = struct.unpack_from("<I", charsmap, 0)
    n = size // 4
    arr = struct.unpack_from("<%dI" % n, charsmap, 4)

    def offset(u):
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    out = []
    pos = offset(arr[0])
    for c in key:
        if c == 0:
            break
        pos ^= c
        if pos >= n:
            break
        u = arr[pos]
        if (u & ((1 << 31) | 0xFF)) != c:
            break
        pos ^= offset(u)
        if (u >> 8) & 1:
            out.append(arr[pos] & ((1 << 31) - 1))
    return out


def charsmap_transform(charsmap, s):
    (size,) = struct.unpack_from("<I", charsmap, 0)
    blob = charsmap[4 + size:]
    vals = charsmap_prefix_values(charsmap, s.encode("utf-8"))
    if not vals:
        return None
    start = vals[0]  # the SHORTEST matching key wins (HF's reading of the charsmap)
    end = blob.index(b"\0", start) if b"\0" in blob[start:] else len(blob)
    return blob[start:end].decode("utf-8")


# ------------------------------------------------------------------ grapheme clusters (subset)
# Enough of UAX #29 for the test texts: CR LF, Extend/SpacingMark (combining marks, variation
# selectors, emoji modifiers), ZWJ emoji sequences and regional-indicator pairs. The oracle run
# checks it on every case.
def _is_extend(ch):
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Me", "Mc") or 0x1F3FB <= cp <= 0x1F3FF
            or cp == 0x200D or 0xFE00 <= cp <= 0xFE0F)


def _is_pictographic(ch):
    cp = ord(ch)
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2300 <= cp <= 0x23FF


def _is_ri(ch):
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def graphemes(s):
    out = []
    i = 0
    while i < len(s):
        j = i + 1
        if s[i] == "\r" and j < len(s) and s[j] == "\n":
            out.append(s[i:j + 1])
            i = j + 1
            continue
        if _is_ri(s[i]) and j < len(s) and _is_ri(s[j]):
            j += 1
        while j < len(s):
            if _is_extend(s[j]):
                j += 1
            elif s[j - 1] == "\u200d" and _is_pictographic(s[j]):
                j += 1
            else:
                break
        out.append(s[i:j])
        i = j
    return out


# ------------------------------------------------------------------ normalizers
# Rust's char::is_whitespace (Unicode White_Space): HF's Strip and added-token lstrip/rstrip
_RUST_WS = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}


def normalize(spec, s):
    return normalize_tracked(spec, s)[0]


def normalize_tracked(spec, s):
    """(normalized text, whether its first character still comes from the input's first one).

    HF's Metaspace prepend_scheme "first" asks the original offset of the piece; a normalizer that
    deletes the leading characters (Strip left, Replace to "") moves it off 0.
    """
    if spec is None:
        return s, True
    t = spec["type"]
    if t == "Sequence":
        kept = True
        for sub in spec["normalizers"]:
            s, k = normalize_tracked(sub, s)
            kept = kept and k
        return s, kept
    out = _normalize_one(spec, s)
    kept = True
    if t == "Strip" and spec.get("strip_left", False):
        kept = not (s and s[0] in _RUST_WS)
    elif t == "Replace" and s:
        pat = spec["pattern"]
        m = re.match(re.escape(pat["String"]) if "String" in pat else pat["Regex"], s)
        kept = not (m and m.end() > 0 and spec["content"] == "")
    # Precompiled deleting the first characters keeps offset 0: HF records no removal for a
    # charsmap rule that maps to "" (its alignments shift instead), so the start stays put.
    return out, kept


def _normalize_one(spec, s):
    t = spec["type"]
    if t == "Precompiled":
        cm = base64.b64decode(spec["precompiled_charsmap"])
        out = []
        for g in graphemes(s):
            if len(g.encode("utf-8")) < 6:
                r = charsmap_transform(cm, g)
                if r is not None:
                    out.append(r)
                    continue
            for ch in g:
                r = charsmap_transform(cm, ch)
                out.append(ch if r is None else r)
        return "".join(out)
    if t == "Replace":
        pat = spec["pattern"]
        if "String" in pat:
            return s.replace(pat["String"], spec["content"])
        return re.sub(pat["Regex"], spec["content"], s)
    if t == "Strip":
        if spec.get("strip_left", False):
            while s and s[0] in _RUST_WS:
                s = s[1:]
        if spec.get("strip_right", False):
            while s and s[-1] in _RUST_WS:
                s = s[:-1]
        return s
    if t in ("NFC", "NFD", "NFKC", "NFKD"):
        return unicodedata.normalize(t, s)
    if t == "Lowercase":
        return s.lower()
    if t == "Prepend":
        return spec["prepend"] + s if s else s
    raise ValueError("reference: unsupported normalizer " + t)


# ------------------------------------------------------------------ unigram Viterbi
class Unigram:
    def __init__(self, spec):
        self.vocab = [(p, float(sc)) for p, sc in spec["vocab"]]
        self.unk_id = spec.get("unk_id")
        self.byte_fallback = bool(spec.get("byte_fallback", False))
        self.ids = {}
        for i, (p, _) in enumerate(self.vocab):
            self.ids[p] = i  # a repeated piece keeps its last id
        self.min_score = min(sc for _, sc in self.vocab)
        self.max_len = max(len(p) for p, _ in self.vocab)

    def pieces(self, text):
        """Best segmentation as strings; consecutive unknown characters fused into one string."""
        n = len(text)
        if n == 0:
            return []
        unk_score = self.min_score - 10.0
        best = [None] * (n + 1)  # (score, start, id)
        best[0] = (0.0, None, None)
        for i in range(n):
            here = best[i][0]
            single = False
            for L in range(1, min(self.max_len, n - i) + 1):
                piece = text[i:i + L]
                if piece not in self.ids:
                    continue
                pid = self.ids[piece]
                cand = here + self.vocab[pid][1]
                if best[i + L] is None or cand > best[i + L][0]:
                    best[i + L] = (cand, i, pid)
                if L == 1:
                    single = True
            if not single:
                cand = here + unk_score
                if best[i + 1] is None or cand > best[i + 1][0]:
                    best[i + 1] = (cand, i, self.unk_id)
        out = []
        end = n
        unk_run = []
        while end > 0:
            _, start, pid = best[end]
            if pid == self.unk_id:
                unk_run.append(text[start:end])
            else:
                if unk_run:
                    out.append("".join(reversed(unk_run)))
                    unk_run = []
                out.append(text[start:end])
            end = start
        if unk_run:
            out.append("".join(reversed(unk_run)))
        return out[::-1]

    def tokenize(self, text):
        ids = []
        for piece in self.pieces(text):
            if piece in self.ids:
                ids.append(self.ids[piece])
                continue
            if self.byte_fallback:
                bt = ["<0x%02X>" % b for b in piece.encode("utf-8")]
                if all(b in self.ids for b in bt):
                    ids.extend(self.ids[b] for b in bt)
                    continue
            ids.append(self.unk_id)
        return ids


# ------------------------------------------------------------------ whole pipeline
class RefTokenizer:
    def __init__(self, j):
        self.j = j
        self.model = Unigram(j["model"])
        self.added = j.get("added_tokens") or []
        self.norm = j.get("normalizer")
        pre = j.get("pre_tokenizer")
        assert pre is None or pre["type"] == "Metaspace"
        self.pre = pre
        # normalized added tokens are matched on normalized text, so their content is normalized too
        self.raw_added = [(a["content"], a) for a in self.added if not a.get("normalized", True)]
        self.norm_added = [(normalize(self.norm, a["content"]), a) for a in self.added if a.get("normalized", True)]

    @staticmethod
    def _split_added(text, table, origin):
        """[(text, added-token id or None, original-start or None)], leftmost-longest matching."""
        out = []
        i = 0
        last = 0
        while i < len(text):
            best = None
            for content, a in table:
                if content and text.startswith(content, i) and (best is None or len(content) > len(best[0])):
                    best = (content, a)
            if best is None:
                i += 1
                continue
            content, a = best
            start, end = i, i + len(content)
            if a.get("lstrip"):
                while start > last and text[start - 1] in _RUST_WS:
                    start -= 1
            if a.get("rstrip"):
                while end < len(text) and text[end] in _RUST_WS:
                    end += 1
            if start > last:
                out.append((text[last:start], None, None if origin is None else origin + last))
            out.append((content, a["id"], None))
            last = i = end
        if last < len(text):
            out.append((text[last:], None, None if origin is None else origin + last))
        return out

    def _pretokenize(self, s, at_origin_start):
        pre = self.pre
        if pre is None:
            return [s] if s else []
        rep = pre["replacement"]
        scheme = pre.get("prepend_scheme", "always")
        split = pre.get("split", True)
        s = s.replace(" ", rep)
        if s and not s.startswith(rep):
            if scheme == "always" or (scheme == "first" and at_origin_start):
                s = rep + s
        if not split:
            return [s] if s else []
        parts = []
        cur = ""
        for ch in s:
            if ch == rep and cur:
                parts.append(cur)
                cur = ""
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    def encode_core(self, text):
        ids = []
        for raw, tid, origin in self._split_added(text, self.raw_added, 0):
            if tid is not None:
                ids.append(tid)
                continue
            normed, kept = normalize_tracked(self.norm, raw)
            for part, tid2, at in self._split_added(normed, self.norm_added, 0):
                if tid2 is not None:
                    ids.append(tid2)
                    continue
                # 'first' means the piece starts the ORIGINAL text (offset 0): the first cut of the
                # raw piece at offset 0, when normalization did not delete its first characters
                for w in self._pretokenize(part, origin == 0 and at == 0 and kept):
                    ids.extend(self.model.tokenize(w))
        return ids

    def encode(self, text, max_length):
        ids = self.encode_core(text)
        post = self.j.get("post_processor")
        before, after = [], []
        if post is not None:
            assert post["type"] == "TemplateProcessing"
            seen_a = False
            for item in post["single"]:
                if "Sequence" in item:
                    seen_a = True
                    continue
                tok_ids = post["special_tokens"][item["SpecialToken"]["id"]]["ids"]
                (after if seen_a else before).extend(tok_ids)
        ids = ids[: max(0, max_length - len(before) - len(after))]
        return before + ids + after


# ------------------------------------------------------------------ test tokenizers
def _added(i, content, normalized=False, lstrip=False, rstrip=False):
    return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": True}


WORDS = ("a man walking the dog in park hello world this is test of cafe crème brûlée naïve résumé "
         "and with on at red blue green small big fine first video person walks kitchen cooking "
         "soccer ball player field camera view looks hands table knife cuts vegetables").split()
SUBWORDS = ["wal", "king", "walk", "ing", "er", "ed", "es", "s", "th", "he", "in", "an", "re", "on", "at",
            "ll", "o", "lo", "hel", "wor", "ld", "ca", "fe", "ré", "su", "mé", "cr", "ème", "br", "ûl", "ée",
            "na", "ïve", "tion", "pl", "ay", "vi", "de", "ki", "tch", "en", "ve", "ge", "ta", "bl", "sm",
            "中", "国", "中国", "的", "猫", "日", "本", "日本", "語", "在", "睡", "觉", "한", "국", "😀", "🍕", "❤"]


def build_vocab(seed):
    rng = random.Random(seed)
    vocab = [["<pad>", 0.0], ["</s>", 0.0], ["<s>", 0.0], ["<unk>", 0.0]]
    vocab += [["<0x%02X>" % b, 0.0] for b in range(256)]
    pieces = [META]
    for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()éèêüç":
        pieces.append(c)
        if c.isalpha() and c.islower():
            pieces.append(META + c)
    pieces += [META + w for w in WORDS] + SUBWORDS + [META + s for s in ("wal", "hel", "caf", "中国")]
    seen = set()
    for p in pieces:
        if p in seen:
            continue
        seen.add(p)
        # longer pieces are rarer but save steps: scores make greedy longest-match wrong sometimes
        score = -(2.0 + 1.3 * rng.random() + 0.9 * len(p) * rng.random())
        vocab.append([p, round(score, 6)])
    return vocab


def tokenizer_a():
    vocab = build_vocab(1)
    extra = [["<extra_id_%d>" % k, 0.0] for k in range(3)]
    n = len(vocab)
    vocab += extra
    rules = {
        "\uff21": "A", "\uff22": "B", "\uff43": "c",   # full-width letters
        "\ufb01": "fi",                                # ligature
        "\u2460": "1",                                  # circled digit
        "\t": " ", "\n": " ", "\u3000": " ", "\u00a0": " ",
        "e\u0301": "\u00e9",                            # compose e + combining acute
        "\u212b": "\u00c5",                             # angstrom sign
        "\u2026": "...",
        "\u200b": "",                                  # zero width space deleted
        "\uff43\u0300": "C!",                           # nested under the U+FF43 rule: never wins
    }
    cm = build_charsmap(rules)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(0, "<pad>"), _added(1, "</s>"), _added(2, "<s>"), _added(3, "<unk>")]
        + [_added(n + k, "<extra_id_%d>" % k) for k in range(3)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(cm).decode("ascii")},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": META, "add_prefix_space": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": META, "add_prefix_space": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": True},
    }


def tokenizer_b():
    vocab = build_vocab(2)
    n = len(vocab)
    vocab += [["<mask>", 0.0], ["[SEP]", 0.0]]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(0, "<pad>"), _added(1, "</s>"), _added(2, "<s>"), _added(3, "<unk>"),
                         _added(n, "<mask>", lstrip=True), _added(n + 1, "[SEP]", normalized=True, rstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"},
            {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": META},
            {"type": "Replace", "pattern": {"String": "~"}, "content": ""}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]},
                                              "<s>": {"id": "<s>", "ids": [2], "tokens": ["<s>"]}}},
        "decoder": None,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }


def tokenizer_c():
    vocab = build_vocab(3)
    cm = build_charsmap({"\uff21": "A", "\u00bd": "1/2", "\u2163": "IV", "\u3000": " ", "\u200b": ""})
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(0, "<pad>"), _added(1, "</s>"), _added(3, "<unk>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(cm).decode("ascii")},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": False},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": True},
    }


def tokenizer_d():
    j = tokenizer_a()
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": False}
    return j


LONG = " ".join(("a man walking the dog in the park while the camera looks at his hands on the table "
                 "and a small red ball on the field") for _ in range(40))

TEXTS = [
    ("ascii", "a man walking the dog in the park"),
    ("ascii_caps_punct", "Hello, World! This is a TEST of 2024 videos."),
    ("accents_precomposed", "café crème brûlée, naïve résumé"),
    ("accents_decomposed", "cafe\u0301 re\u0301sume\u0301"),
    ("accents_unknown", "Ærøskøbing ñandú"),
    ("cjk", "中国的猫在睡觉，日本語のテキスト"),
    ("korean", "한국어 텍스트"),
    ("emoji", "I ❤️ pizza 🍕 and 👍🏽 and 😀"),
    ("emoji_zwj_flag", "family 👨‍👩‍👧 flag 🇫🇷"),
    ("whitespace_runs", "  multiple   spaces\tand\t\ttabs\nnewlines   "),
    ("ideographic_space", "\u3000wide\u3000\u3000space\u00a0nbsp"),
    ("empty", ""),
    ("only_spaces", "    "),
    ("charsmap_fullwidth", "\uff21\uff22\uff43 \ufb01ne \u2460 \u212bngstr\u00f6m\u2026 \u00bd \u2163"),
    ("charsmap_shortest_prefix", "x\uff21\u0301y \uff21\u0301\u0301z \uff43\u0300 \uff43\u0300\u0300\u0300"),
    ("added_tokens_inline", "a dog </s> runs <extra_id_1>x<unk>"),
    ("added_tokens_b", "hello <mask> world [SEP]  next [sep] x"),
    ("leading_added", "</s>hello world"),
    ("leading_deleted", "~tilde first ~ and ~~"),
    ("leading_deleted_charsmap", "\u200bzero width first"),
    ("long_truncated", LONG),
]

TOKENIZERS = {"unigram_a": tokenizer_a, "unigram_b": tokenizer_b, "unigram_c": tokenizer_c,
              "unigram_d": tokenizer_d}
MAX_LENGTHS = {"long_truncated": 512}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    try:
        import tokenizers as hf
        oracle = "tokenizers " + hf.__version__
    except ImportError:
        hf = None
        oracle = None
    cases = []
    for stem, make in TOKENIZERS.items():
        j = make()
        text_json = json.dumps(j, ensure_ascii=False, indent=1)
        with open(os.path.join(OUT_DIR, stem + ".tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(text_json + "\n")
        ref = RefTokenizer(j)
        id_to_piece = {i: p for i, (p, _) in enumerate(j["model"]["vocab"])}
        hf_tok = hf.Tokenizer.from_str(text_json) if hf else None
        for name, text in TEXTS:
            max_length = MAX_LENGTHS.get(name, 64)
            ids = ref.encode(text, max_length)
            if hf_tok is not None:
                hf_tok.enable_truncation(max_length=max_length)
                hf_tok.enable_padding(length=max_length, pad_id=0, pad_token="<pad>")
                enc = hf_tok.encode(text)
                mine = ids + [0] * (max_length - len(ids))
                mask = [1] * len(ids) + [0] * (max_length - len(ids))
                if enc.ids != mine or enc.attention_mask != mask:
                    print("MISMATCH", stem, name, "\n ref   ", ids, "\n oracle", enc.ids[:len(ids) + 3],
                          enc.tokens[:sum(enc.attention_mask)])
                    sys.exit(1)
            cases.append({"tokenizer": stem, "name": name, "text": text, "maxLength": max_length,
                          "ids": ids, "tokens": [id_to_piece.get(i, "?") for i in ids]})
    with open(os.path.join(OUT_DIR, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"oracle": oracle, "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    print("wrote %d tokenizer cases; oracle: %s" % (len(cases), oracle or "none (reference only)"))

    clean = []
    for raw in PROMPTS:
        clean.append({"text": raw, "clean": prompt_clean(raw)})
    with open(os.path.join(OUT_DIR, "prompt_clean.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": clean}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %d prompt clean-up cases" % len(clean))


# ------------------------------------------------------------------ prompt clean-up (minus ftfy)
# The TypeScript knows the HTML 4 entity names only (+ &apos; and the upper-case legacy ones);
# the prompts below stay inside that set, so Python's full HTML5 table gives the same answers.
def prompt_clean(text):
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


PROMPTS = [
    "  A man\n\n walks   the\tdog.  ",
    "Tom &amp; Jerry &lt;3 &quot;cartoon&quot; &#39;classic&#39;",
    "double &amp;amp; escaped &amp;lt;b&amp;gt;",
    "numeric &#233;t&#xE9; &#x1F600; &#0; &#128; &#x110000; &#55296; &#65535;",
    "controls [&#8;] [&#11;] [&#13;] [&#127;] [&#150;] [&#157;] [&#xFDD0;] [&#x1FFFF;] [&#99999999999999;]",
    "no semicolon &amp &lt &copy2024 &notit; &notin; &ampere",
    "unknown &foo; &; & alone &#; &#x; &#xZZ;",
    "html4 names &rarr; &hellip; &nbsp;x&lang;&rang; &apos; &Aacute &aacute; &COPY; &REG",
    "unicode spaces\u2003em\u3000ideo\u00a0nbsp\u200bzwsp\u2028ls\x1cfs\x85nel\ufeffbom",
    "",
    "   \n\t  ",
    "\uff21 full width stays",
]

if __name__ == "__main__":
    main()
