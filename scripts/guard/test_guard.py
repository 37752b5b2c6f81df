"""Tests of the shape checks: a cycle, a re-export, a test module, the layer rules."""

import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check  # noqa: E402
from modgraph import Crate, cycles, parse_use, strip_comments_and_strings  # noqa: E402


def tree(files: dict[str, str]) -> Path:
    root = Path(tempfile.mkdtemp())
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def crate_cycles(files: dict[str, str]) -> list[list[str]]:
    crate = Crate(tree({f"src/{k}": v for k, v in files.items()}) / "src")
    return [["/".join(m) or "lib" for m in comp] for comp in cycles(crate.edges())]


class UseTrees(unittest.TestCase):
    def test_nested_groups_aliases_and_self(self):
        got = parse_use("crate::a::{self, b::{C as D, e}, f}")
        self.assertEqual(got, [(["crate", "a"], "a"), (["crate", "a", "b", "C"], "D"),
                               (["crate", "a", "b", "e"], "e"), (["crate", "a", "f"], "f")])

    def test_strings_and_comments_hide_paths(self):
        code = strip_comments_and_strings('let s = "crate::x::y"; // crate::z\nlet r = r#"super::q"#;')
        self.assertNotIn("crate::", code)
        self.assertNotIn("super::", code)


class Cycles(unittest.TestCase):
    def test_parent_calling_a_child_that_uses_a_parent_helper_is_a_cycle(self):
        found = crate_cycles({
            "lib.rs": "mod routes;\n",
            "routes/mod.rs": "mod agents;\npub fn helper() {}\npub fn configure() { agents::get(); }\n",
            "routes/agents.rs": "use super::helper;\npub fn get() { helper(); }\n",
        })
        self.assertEqual(found, [["routes", "routes/agents"]])

    def test_helpers_in_a_leaf_sibling_break_the_cycle(self):
        found = crate_cycles({
            "lib.rs": "mod routes;\n",
            "routes/mod.rs": "mod agents;\nmod support;\npub fn configure() { agents::get(); }\n",
            "routes/support.rs": "pub fn helper() {}\n",
            "routes/agents.rs": "use super::support::helper;\npub fn get() { helper(); }\n",
        })
        self.assertEqual(found, [])

    def test_a_reexport_leads_to_the_defining_file(self):
        # lib.rs re-exports Config; startup names crate::Config: no cycle through lib.rs.
        found = crate_cycles({
            "lib.rs": "pub mod config;\npub mod startup;\npub use config::Config;\npub use startup::build;\n",
            "config.rs": "pub struct Config;\n",
            "startup.rs": "pub fn build(_: crate::Config) {}\n",
        })
        self.assertEqual(found, [])

    def test_an_item_of_lib_used_by_a_reexported_module_is_a_cycle(self):
        found = crate_cycles({
            "lib.rs": "pub mod startup;\npub use startup::build;\npub fn migrations() {}\n",
            "startup.rs": "pub fn build() { crate::migrations(); }\n",
        })
        self.assertEqual(found, [["lib", "startup"]])

    def test_test_modules_do_not_count(self):
        found = crate_cycles({
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a.rs": "pub fn f() { crate::b::g(); }\n",
            "b.rs": "pub fn g() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::f;\n}\n",
        })
        self.assertEqual(found, [])


class Layers(unittest.TestCase):
    def test_rules_module_naming_app_state_and_actix_is_reported(self):
        root = tree({
            "services/svc/src/lib.rs": "pub mod startup;\npub mod rules;\nmod routes;\n",
            "services/svc/src/startup.rs": "pub struct AppState;\nuse actix_web::web;\n",
            "services/svc/src/routes/mod.rs": "use crate::startup::AppState;\nuse actix_web::web;\n",
            "services/svc/src/rules.rs": "use crate::startup::AppState;\nuse actix_web::http::StatusCode;\n",
            "crates/platform/src/lib.rs": "",
            "crates/domain/src/lib.rs": "",
        })
        got = check.check_layers(root)
        self.assertEqual(len(got), 2, got)
        self.assertTrue(all("rules.rs" in g for g in got))

    def test_sizes(self):
        root = tree({"crates/x/src/lib.rs": "\n" * 501, "crates/y/src/lib.rs": "\n" * 500})
        got = check.check_sizes(root)
        self.assertEqual(len(got), 1)
        self.assertIn("crates/x/src/lib.rs", got[0])


if __name__ == "__main__":
    unittest.main()
