"""`eqdesign.commands.discover`: which spec files `eqdesign check` arguments name, on real files in tmp_path."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from eqdesign.commands.discover import Discovery, Skipped, discover

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX-only")
LOOP = "symbolic link loop (leads back to {})"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative arguments, as users type them, so results can be compared with exact relative paths.
    monkeypatch.chdir(tmp_path)


def touch(*paths: str, text: str = "") -> None:
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)


def link(name: str, target: str) -> None:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(target, name)
    except (OSError, NotImplementedError) as err:  # e.g. Windows without symlink rights
        pytest.skip(f"cannot create symlinks here: {err}")


def run(patterns: Sequence[str], timeout: float = 120.0, **kwargs: int) -> Discovery:
    """discover() in a thread: a regression that hangs (symlink loop, FIFO opened) fails here instead of stalling
    (the timeout only catches a hang: a loaded machine can stretch a healthy walk severalfold)."""
    box: list[Discovery] = []
    worker = threading.Thread(target=lambda: box.append(discover(patterns, **kwargs)), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"discover({patterns!r}) did not finish in {timeout}s"
    return box[0]


def test_suffixes_match_in_any_case_and_other_files_are_ignored_silently() -> None:
    touch("specs/a.YAML", "specs/b.Yml", "specs/c.yaml", "specs/d.yml", "specs/x.txt", "specs/yaml")
    assert run(["specs"]) == Discovery(("specs/a.YAML", "specs/b.Yml", "specs/c.yaml", "specs/d.yml"), (), ())


def test_paths_keep_the_arguments_spelling() -> None:
    touch("specs/a.yaml", "specs/sub/b.yaml")
    assert run(["specs/"]).files == ("specs/a.yaml", "specs/sub/b.yaml")
    assert run(["./specs"]).files == ("./specs/a.yaml", "./specs/sub/b.yaml")


def test_symlinked_folder_is_followed() -> None:
    touch("elsewhere/shared.yaml", "specs/own.yaml")
    link("specs/linked", "../elsewhere")
    assert run(["specs"]) == Discovery(("specs/linked/shared.yaml", "specs/own.yaml"), (), ())


def test_symlink_loop_ends_and_is_reported() -> None:
    touch("specs/a.yaml", "specs/sub/b.yaml")
    link("specs/sub/up", "..")
    link("specs/self", ".")
    assert run(["specs"]) == Discovery(
        ("specs/a.yaml", "specs/sub/b.yaml"),
        (Skipped("specs/self", LOOP.format("specs")), Skipped("specs/sub/up", LOOP.format("specs"))),
        (),
    )


def test_link_up_above_the_named_folder_is_a_loop_too(tmp_path: Path) -> None:
    touch("specs/a.yaml", "specs/sub/b.yaml")
    link("specs/sub/up", "..")
    # Following it would walk specs/sub again as specs/sub/up/sub, so it counts as a loop although specs itself
    # was never entered; it is named by its real path because the walk has no name for it.
    real_specs = str((tmp_path / "specs").resolve())
    assert run(["specs/sub"]) == Discovery(
        ("specs/sub/b.yaml",),
        (Skipped("specs/sub/up", LOOP.format(real_specs)),),
        (),
    )


def test_second_link_to_a_walked_folder_is_reported_not_walked_again() -> None:
    touch("specs/v2/a.yaml")
    link("specs/current", "v2")
    assert run(["specs"]) == Discovery(
        ("specs/current/a.yaml",),
        (Skipped("specs/v2", "same folder as specs/current"),),
        (),
    )


def make_project() -> None:
    touch("proj/main.yaml", "proj/x.txt")
    for folder in (".venv", ".git", ".hidden", "node_modules", "__pycache__", "build", "env"):
        touch(f"proj/{folder}/x.yaml")
    touch("proj/env/pyvenv.cfg", "proj/.venv/lib/site-packages/pkg/y.yaml")


def test_vendored_virtualenv_vcs_and_hidden_folders_are_skipped_and_reported() -> None:
    make_project()
    assert run(["proj"]) == Discovery(
        ("proj/main.yaml",),
        (
            Skipped("proj/.git", "version-control folder"),
            Skipped("proj/.hidden", "hidden folder"),
            Skipped("proj/.venv", "virtual environment"),
            Skipped("proj/__pycache__", "cache folder"),
            Skipped("proj/build", "build output"),
            Skipped("proj/env", "virtual environment (pyvenv.cfg)"),
            Skipped("proj/node_modules", "vendored packages"),
        ),
        (),
    )


def test_skipped_folders_are_walked_when_named() -> None:
    make_project()
    found = run(["proj/.venv", "proj/node_modules", "proj/env", "proj/.git/x.yaml", "proj/build/"])
    assert found == Discovery(
        ("proj/.venv/x.yaml", "proj/node_modules/x.yaml", "proj/env/x.yaml", "proj/.git/x.yaml", "proj/build/x.yaml"),
        # Naming .venv names only .venv: the packages installed inside it are still left out.
        (Skipped("proj/.venv/lib/site-packages", "installed packages"),),
        (),
    )


def test_a_folder_named_env_without_pyvenv_cfg_is_walked() -> None:
    touch("proj/env/config.yaml")
    assert run(["proj"]).files == ("proj/env/config.yaml",)


@needs_fifo
def test_fifo_named_explicitly_is_a_problem_and_never_opened() -> None:
    os.mkfifo("pipe.yaml")
    assert run(["pipe.yaml"]) == Discovery((), (), ("pipe.yaml: not a regular file",))


@needs_fifo
def test_fifo_inside_a_folder_is_skipped() -> None:
    touch("specs/a.yaml")
    os.mkfifo("specs/pipe.yml")
    os.mkfifo("specs/pipe.txt")  # not spec-looking: ignored like any other non-spec file
    assert run(["specs"]) == Discovery(
        ("specs/a.yaml",),
        (Skipped("specs/pipe.yml", "not a regular file (named pipe)"),),
        (),
    )


@needs_fifo
def test_fifo_matched_by_a_glob_is_skipped() -> None:
    touch("specs/a.yaml")
    os.mkfifo("specs/pipe.yaml")
    assert run(["specs/*.yaml"]) == Discovery(
        ("specs/a.yaml",),
        (Skipped("specs/pipe.yaml", "not a regular file (named pipe)"),),
        (),
    )


def test_dangling_and_self_referential_links_in_a_folder_are_skipped() -> None:
    touch("specs/a.yaml")
    link("specs/gone.yaml", "nowhere.yaml")
    link("specs/self.yml", "self.yml")
    link("specs/loop", "loop")  # not spec-looking: ignored like any other non-spec name
    expected = Discovery(
        ("specs/a.yaml",),
        (
            Skipped("specs/gone.yaml", "no such file or directory (broken symbolic link)"),
            Skipped("specs/self.yml", os.strerror(errno.ELOOP).lower()),
        ),
        (),
    )
    assert run(["specs"]) == expected
    assert run(["specs/**/*"]) == expected


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_is_a_problem() -> None:
    assert run(["/dev/zero"]) == Discovery((), (), ("/dev/zero: not a regular file",))


def test_folder_without_specs_is_a_problem() -> None:
    Path("empty").mkdir()
    touch("notes/x.txt", "notes/.venv/hidden.yaml")
    assert run(["empty", "notes/"]) == Discovery(
        (),
        (Skipped("notes/.venv", "virtual environment"),),
        ("empty: no spec files (.yaml/.yml) found", "notes/: no spec files (.yaml/.yml) found"),
    )


def test_missing_path_and_unmatched_glob_are_problems() -> None:
    touch("specs/a.yaml")
    assert run(["missing.yaml", "specs/*.yml", "specs/a.yaml"]) == Discovery(
        ("specs/a.yaml",),
        (),
        ("missing.yaml: no such file or directory", "specs/*.yml: no file matches"),
    )


def test_broken_symlink_named_explicitly_is_a_problem() -> None:
    link("dangling.yaml", "nowhere.yaml")
    assert run(["dangling.yaml"]).problems == ("dangling.yaml: no such file or directory (broken symbolic link)",)


def test_named_file_is_taken_whatever_its_suffix() -> None:
    touch("spec.txt")
    assert run(["spec.txt"]) == Discovery(("spec.txt",), (), ())


def test_recursive_glob_through_symlink_loop_ends() -> None:
    touch("tree/a.yaml", "tree/sub/b.yaml", "tree/sub/deeper/c.yaml", "tree/sub/x.txt")
    link("tree/sub/up", "..")
    link("tree/sub/deeper/self", ".")
    assert run(["tree/**/*.yaml"]) == Discovery(
        ("tree/a.yaml", "tree/sub/b.yaml", "tree/sub/deeper/c.yaml"),
        (Skipped("tree/sub/deeper/self", LOOP.format("tree/sub/deeper")), Skipped("tree/sub/up", LOOP.format("tree"))),
        (),
    )


def test_recursive_glob_from_the_working_folder() -> None:
    touch("a.yaml", "sub/b.yml", ".venv/c.yaml")
    link("sub/up", "..")
    assert run(["**/*.y*ml"]) == Discovery(
        ("a.yaml", "sub/b.yml"),
        (Skipped(".venv", "virtual environment"), Skipped("sub/up", LOOP.format("."))),
        (),
    )


def test_repeated_recursive_glob_does_not_multiply_through_a_loop() -> None:
    touch("a/x.yaml", "a/b/y.yaml", "a/b/c/z.yaml")
    link("a/b/c/up", "../..")
    assert run(["**/**/**/*.yaml"]) == Discovery(
        ("a/b/c/z.yaml", "a/b/y.yaml", "a/x.yaml"),
        (Skipped("a/b/c/up", LOOP.format("a")),),
        (),
    )


def test_glob_matching_folders_walks_them() -> None:
    touch("specs/one/a.yaml", "specs/two/b.yaml", "specs/two/deep/c.yaml", "specs/readme.txt")
    assert run(["specs/*"]).files == ("specs/one/a.yaml", "specs/two/b.yaml", "specs/two/deep/c.yaml")
    assert run(["specs/**"]).files == ("specs/one/a.yaml", "specs/two/b.yaml", "specs/two/deep/c.yaml")


def test_glob_matching_only_other_files_is_a_problem() -> None:
    touch("specs/readme.txt")
    assert run(["specs/*.txt"]).problems == ("specs/*.txt: no spec files (.yaml/.yml) found",)


def test_existing_name_with_glob_characters_is_taken_literally() -> None:
    touch("a[1].yaml", "a1.yaml")
    assert run(["a[1].yaml"]).files == ("a[1].yaml",)
    os.remove("a[1].yaml")
    assert run(["a[1].yaml"]).files == ("a1.yaml",)  # no such file any more: now it is a pattern


def test_duplicates_are_dropped_keeping_the_first_spelling() -> None:
    touch("specs/a.yaml", "specs/b.yaml")
    link("alias.yaml", "specs/b.yaml")
    found = run(["specs/b.yaml", "specs", "specs/*.yaml", "./specs/a.yaml", "alias.yaml", "specs/b.yaml"])
    assert found == Discovery(("specs/b.yaml", "specs/a.yaml"), (), ())


def test_order_is_sorted_within_an_argument_and_follows_the_arguments() -> None:
    touch("b/z.yaml", "b/a.yaml", "b/m/x.yaml", "b/m-n.yaml", "a/c.yaml")
    assert run(["b", "a"]).files == ("b/a.yaml", "b/m/x.yaml", "b/m-n.yaml", "b/z.yaml", "a/c.yaml")
    assert run(["b", "a"]) == run(["b", "a"])


def test_entry_budget_ends_in_a_problem() -> None:
    names = tuple(f"big/{i:02}.yaml" for i in range(30))
    touch(*names)
    stopped = "big: stopped after 10 entries; name a narrower folder or pattern"
    assert run(["big"], max_entries=10).problems == (stopped,)
    assert run(["big"]) == Discovery(names, (), ())
