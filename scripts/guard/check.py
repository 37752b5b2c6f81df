"""The workspace's shape, checked mechanically (`make guard`).

1. No import cycle between the files of any crate (see modgraph.py for what counts).
2. Layers: in a service, only `startup.rs`, `lib.rs`, `main.rs` and `routes/` name `startup`
   or `AppState`, and only `startup.rs` and `routes/` import actix; in platform, only its
   HTTP modules import actix; domain imports no web or database crate.
3. No `.rs` file under a `src/` has more than 500 lines.
4. Dependencies: `domain` pulls in no web, database or Redis crate; `platform` no Stripe crate.

Exit status 1 with one line per finding; 0 when the tree keeps its shape.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from modgraph import Crate, cycles, drop_test_modules, strip_comments_and_strings  # noqa: E402

MAX_LINES = 500
# Service files allowed to know the application state and the web framework.
STATE_FILES = {"startup.rs", "lib.rs", "main.rs"}
WEB_FILES = {"startup.rs"}
# Platform modules that are the HTTP layer (folders count with everything in them).
PLATFORM_WEB = {"app", "server", "extract", "errors", "health", "auth", "budget", "telemetry",
                "rate_limit", "config"}
ACTIX_RE = re.compile(r"\bactix_[a-z_]+\b|\bactix_web\b")
STATE_RE = re.compile(r"\bAppState\b|\bstartup\b")
DOMAIN_FORBIDDEN = re.compile(
    r"^(actix-.*|hyper|axum|reqwest|tokio-postgres|postgres-.*|deadpool.*|redis|refinery.*|sqlx.*|platform)$"
)
PLATFORM_FORBIDDEN = re.compile(r"^(async-stripe.*|stripe.*)$")


def crate_dirs(root: Path) -> list[Path]:
    return sorted(p for p in list(root.glob("crates/*/src")) + list(root.glob("services/*/src")) if p.is_dir())


def code_of(path: Path) -> str:
    return drop_test_modules(strip_comments_and_strings(path.read_text(encoding="utf-8")))


def check_cycles(root: Path) -> list[str]:
    problems = []
    for src in crate_dirs(root):
        crate = Crate(src)
        graph = crate.edges()
        for comp in cycles(graph):
            names = [str(crate.files[m].path.relative_to(root)) for m in comp]
            ties = []
            members = set(comp)
            for a in comp:
                for b, via in sorted(graph[a].items()):
                    if b in members:
                        ties.append(f"{crate.files[a].path.relative_to(root)} -> "
                                    f"{crate.files[b].path.relative_to(root)} ({', '.join(sorted(via))})")
            problems.append("import cycle: " + ", ".join(names) + "\n    " + "\n    ".join(ties))
    return problems


def check_layers(root: Path) -> list[str]:
    problems = []
    for src in root.glob("services/*/src"):
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src)
            in_routes = rel.parts[0] == "routes"
            code = code_of(f)
            top = len(rel.parts) == 1
            if not (in_routes or top and rel.name in STATE_FILES) and STATE_RE.search(code):
                problems.append(f"layer: {f.relative_to(root)} names the application state (startup/AppState)")
            if not (in_routes or top and rel.name in WEB_FILES) and ACTIX_RE.search(code):
                problems.append(f"layer: {f.relative_to(root)} imports actix outside routes/ and startup.rs")
    for f in sorted((root / "crates/platform/src").rglob("*.rs")):
        rel = f.relative_to(root / "crates/platform/src")
        if Path(rel.parts[0]).stem not in PLATFORM_WEB and ACTIX_RE.search(code_of(f)):
            problems.append(f"layer: {f.relative_to(root)} imports actix outside platform's HTTP modules")
    for f in sorted((root / "crates/domain/src").rglob("*.rs")):
        if ACTIX_RE.search(code_of(f)):
            problems.append(f"layer: {f.relative_to(root)} imports actix in domain")
    return problems


def check_sizes(root: Path) -> list[str]:
    problems = []
    for src in crate_dirs(root):
        for f in sorted(src.rglob("*.rs")):
            n = f.read_text(encoding="utf-8").count("\n")
            if n > MAX_LINES:
                problems.append(f"size: {f.relative_to(root)} has {n} lines (at most {MAX_LINES})")
    return problems


def normal_deps(root: Path, package: str) -> set[str]:
    out = subprocess.run(
        ["cargo", "tree", "--offline", "-p", package, "-e", "normal", "--prefix", "none",
         "--format", "{p}", "--no-dedupe"],
        cwd=root, capture_output=True, text=True,
    )
    if out.returncode != 0:
        out = subprocess.run(
            ["cargo", "tree", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"],
            cwd=root, capture_output=True, text=True, check=True,
        )
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def check_dependencies(root: Path) -> list[str]:
    problems = []
    for name in sorted(normal_deps(root, "domain")):
        if DOMAIN_FORBIDDEN.match(name):
            problems.append(f"dependency: domain depends on {name} (domain stays free of web and database crates)")
    for name in sorted(normal_deps(root, "platform")):
        if PLATFORM_FORBIDDEN.match(name):
            problems.append(f"dependency: platform depends on {name} (Stripe belongs to billing)")
    return problems


def main(argv: list[str]) -> int:
    paths = [a for a in argv[1:] if not a.startswith("--")]
    root = Path(paths[0]).resolve() if paths else Path(__file__).resolve().parents[2]
    skip_deps = "--no-deps" in argv
    problems = check_cycles(root) + check_layers(root) + check_sizes(root)
    if not skip_deps:
        problems += check_dependencies(root)
    for p in problems:
        print(p)
    if problems:
        print(f"guard: {len(problems)} problem(s)")
        return 1
    print("guard: no import cycles, layers kept, files within size, dependencies kept")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
