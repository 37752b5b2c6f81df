"""The import graph between the files of one Rust crate, read from its source text.

A file A depends on a file B when A names an item defined in B: in a `use` declaration, or
in a path in code that starts with `crate::`, `super::`, `self::`, a child module of A, or a
name A imported as a module. Re-exports are followed to the file that defines the item, so
`crate::Config` re-exported by `lib.rs` from `config.rs` is an edge to `config.rs`; the
re-export itself is an edge from `lib.rs` to `config.rs`. Test modules (`#[cfg(test)]`) are
left out: they may use what they test.

Only the standard library is used, so the check runs on any machine with Python 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ITEM_RE = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|union|mod)\s+(r#)?([A-Za-z_][A-Za-z0-9_]*)"
)
MACRO_RE = re.compile(r"\bmacro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)")
MOD_DECL_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
INLINE_MOD_RE = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{")
USE_RE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:r#)?[A-Za-z_][A-Za-z0-9_]*(?:\s*::\s*(?:r#)?[A-Za-z_][A-Za-z0-9_]*)+)")
CFG_TEST_RE = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*(;|\{)")


def strip_comments_and_strings(src: str) -> str:
    """Blanks comments, string and char literals (keeping line structure)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
            continue
        m = re.match(r'b?r(#*)"', src[i:i + 260])
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            # A char literal ('a', '\n', '\u{1F600}'), not a lifetime ('a).
            m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def drop_test_modules(src: str) -> str:
    """Removes `#[cfg(test)] mod x { ... }` bodies (and `#[cfg(test)] mod x;` lines)."""
    while True:
        m = CFG_TEST_RE.search(src)
        if not m:
            return src
        if m.group(1) == ";":
            src = src[: m.start()] + src[m.end():]
            continue
        depth, j = 1, m.end()
        while j < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        src = src[: m.start()] + "\n" * src.count("\n", m.start(), j) + src[j:]


def expand_use_tree(tree: str) -> list[list[str]]:
    """`a::{b, c::{d, self}}` -> [[a, b], [a, c, d], [a, c, self]]; `*` stays a segment."""
    tree = re.sub(r"\s+", "", tree)
    out: list[list[str]] = []

    def walk(prefix: list[str], t: str) -> None:
        brace = t.find("{")
        if brace < 0:
            out.append(prefix + [p for p in t.split("::") if p])
            return
        head = t[:brace]
        base = prefix + [p for p in head.split("::") if p]
        for part in split_top(t[brace + 1: t.rfind("}")]):
            walk(base, part)

    if tree:
        walk([], tree)
    return out


def split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return [p for p in parts if p]


def parse_use(tree: str) -> list[tuple[list[str], str]]:
    """[(path, bound name)] of one use tree; `as` aliases and `self` handled."""
    # Mark aliases before whitespace is folded.
    marked = re.sub(r"\s+as\s+", "@", tree.strip())
    result = []
    for path in expand_use_tree(marked):
        if not path:
            continue
        last = path[-1]
        alias = None
        if "@" in last:
            last, alias = last.split("@", 1)
            path = path[:-1] + [last]
        if last == "self":
            path = path[:-1]
            name = alias or (path[-1] if path else "")
        else:
            name = alias or last
        result.append((path, name))
    return result


@dataclass
class FileInfo:
    path: Path
    module: tuple[str, ...]
    items: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)
    inline_mods: set[str] = field(default_factory=set)
    reexports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    glob_reexports: list[tuple[str, ...]] = field(default_factory=list)
    uses: list[tuple[list[str], str]] = field(default_factory=list)
    code_paths: list[list[str]] = field(default_factory=list)


def module_of(src_dir: Path, f: Path) -> tuple[str, ...]:
    rel = f.relative_to(src_dir).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


class Crate:
    """The files of one crate's `src/` (a `main.rs` beside a `lib.rs` is another crate)."""

    def __init__(self, src_dir: Path):
        self.src_dir = src_dir
        self.files: dict[tuple[str, ...], FileInfo] = {}
        for f in sorted(src_dir.rglob("*.rs")):
            if f.name == "main.rs" and (src_dir / "lib.rs").exists() and f.parent == src_dir:
                continue
            if f.parent.name == "bin" and f.parent.parent == src_dir:
                continue
            self._read(f)

    def _read(self, f: Path) -> None:
        text = drop_test_modules(strip_comments_and_strings(f.read_text(encoding="utf-8")))
        info = FileInfo(f, module_of(self.src_dir, f))
        info.children = set(MOD_DECL_RE.findall(text))
        info.inline_mods = set(INLINE_MOD_RE.findall(text))
        for m in ITEM_RE.finditer(text):
            info.items.add(m.group(2))
        info.items |= set(MACRO_RE.findall(text))
        for m in USE_RE.finditer(text):
            public = bool(m.group(1))
            for path, name in parse_use(m.group(2)):
                if not path:
                    continue
                info.uses.append((path, name))
                if public and name != "*":
                    info.reexports[name] = tuple(path)
                elif public:
                    info.glob_reexports.append(tuple(path[:-1]))
        no_use = USE_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for m in PATH_RE.finditer(no_use):
            segs = [s.strip().removeprefix("r#") for s in m.group(1).split("::")]
            info.code_paths.append(segs)
        self.files[info.module] = info

    # -- resolution ----------------------------------------------------------------------
    def _absolute(self, info: FileInfo, path: list[str], aliases: dict[str, list[str]]) -> list[str] | None:
        """The path from the crate root, or None when it leaves the crate."""
        first, rest = path[0], path[1:]
        if first == "crate":
            return rest
        if first in ("self", "super"):
            base = list(info.module)
            segs = list(path)
            while segs and segs[0] in ("self", "super"):
                if segs.pop(0) == "super":
                    if not base:
                        return None
                    base.pop()
            return base + segs
        if first in info.children:
            return list(info.module) + path
        if first in aliases:
            return aliases[first] + rest
        return None

    def resolve(self, abs_path: list[str], depth: int = 0) -> tuple[str, ...] | None:
        """The module (file) that defines what `abs_path` names."""
        if depth > 8:
            return None
        for cut in range(len(abs_path), -1, -1):
            mod = tuple(abs_path[:cut])
            if mod in self.files:
                break
        else:
            return None
        rest = abs_path[cut:]
        if not rest or rest[0] == "*":
            return mod
        info = self.files[mod]
        name = rest[0]
        if name in info.reexports and name not in info.items:
            target = list(info.reexports[name])
            absolute = self._absolute(info, target, {})
            if absolute is None:
                return mod
            return self.resolve(absolute + rest[1:], depth + 1) or mod
        if name not in info.items:
            for glob in info.glob_reexports:
                absolute = self._absolute(info, list(glob), {})
                if absolute is not None:
                    hit = self.resolve(absolute + rest, depth + 1)
                    if hit is not None and name in self.files[hit].items | set(self.files[hit].reexports):
                        return hit
        return mod

    def edges(self) -> dict[tuple[str, ...], dict[tuple[str, ...], set[str]]]:
        """file -> {file it depends on -> names it takes from there}."""
        out: dict[tuple[str, ...], dict[tuple[str, ...], set[str]]] = {}
        for mod, info in self.files.items():
            aliases: dict[str, list[str]] = {}
            targets: dict[tuple[str, ...], set[str]] = {}

            def add(path: list[str]) -> None:
                absolute = self._absolute(info, path, aliases)
                if absolute is None:
                    return
                hit = self.resolve(absolute)
                if hit is not None and hit != mod:
                    targets.setdefault(hit, set()).add("::".join(path))

            for path, name in info.uses:
                absolute = self._absolute(info, path, {})
                if absolute is not None and name not in ("*", ""):
                    aliases[name] = absolute
            for path, _ in info.uses:
                add(path)
            for path in info.code_paths:
                if path[0] in info.inline_mods and path[0] not in info.children:
                    continue
                add(path)
            out[mod] = targets
        return out


def cycles(graph: dict[tuple[str, ...], dict[tuple[str, ...], set[str]]]) -> list[list[tuple[str, ...]]]:
    """Strongly connected components of more than one file (Tarjan)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    found: list = []
    counter = [0]

    def visit(v) -> None:
        work = [(v, iter(sorted(graph.get(v, {}))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found
