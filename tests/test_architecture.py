"""The shape of the code: the import contracts in pyproject.toml hold, they catch a planted
back-edge, and no module of syncd or connectors imports itself through others (ARCHITECTURE.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector
from syncd.config.sections import GarminSection
from syncd.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("syncd", "connectors")
LAYERS = ("syncd flows one way: domain <- store <- pipeline <- alerts <- runtime <- web <- cli "
          "<- sources/<name>")
CONNECTORS = "connectors fetch and normalize: of syncd they import the models and errors only"


def lint_imports(root: Path) -> tuple[int, str]:
    """``lint-imports`` run in ``root`` (with the packages found there first on the path): its
    exit code and its report, lines unwrapped."""
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every import that closes a loop, as the chain from the imported module back to its
    importer (module level, function-level and TYPE_CHECKING imports alike)."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            chain = graph.find_shortest_chain(importer=imported, imported=importer)
            if chain is not None:
                found.append([importer, *chain])
    return found


def test_lint_imports_keeps_every_contract() -> None:
    code, report = lint_imports(REPO)
    assert code == 0, report
    assert "4 kept, 0 broken" in report and f"{LAYERS} KEPT" in report


def test_a_planted_back_edge_breaks_the_layers_and_the_connector_contract(
        tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with (tmp_path / "syncd" / "store" / "engine.py").open("a") as engine:
        engine.write("\nfrom syncd.runtime import daemon as _planted  # noqa: E402, F401\n")
    with (tmp_path / "connectors" / "base.py").open("a") as base:
        base.write("\nfrom syncd.store import queries as _planted  # noqa: E402, F401\n")

    code, report = lint_imports(tmp_path)

    assert code != 0
    assert f"{LAYERS} BROKEN" in report, report
    assert "syncd.store is not allowed to import syncd.runtime" in report
    assert "syncd.store.engine -> syncd.runtime.daemon" in report
    assert f"{CONNECTORS} BROKEN" in report
    assert "connectors.base -> syncd.store.queries" in report


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert cycles(graph) == []


def test_the_cycle_finder_names_a_planted_loop() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph.add_import(importer="syncd.models", imported="syncd.runtime.daemon")

    planted = [loop for loop in cycles(graph) if loop[:2] == ["syncd.models",
                                                               "syncd.runtime.daemon"]]

    assert len(planted) == 1
    assert planted[0][-1] == "syncd.models" and len(planted[0]) > 3  # back through others


def test_a_garmin_connector_without_a_token_store_or_state_directory_says_what_to_set(
) -> None:
    # The state directory is syncd's to choose and pass; the connector does not guess it.
    connector = GarminConnector(GarminSection(), ConnectorContext(athlete="ana",
                                                                  timezone="Europe/Berlin"))
    with pytest.raises(ConfigError, match=r"garmin.token_store: not set.*set \[garmin\] "
                                          "token_store"):
        _ = connector.token_dir


def test_a_garmin_connector_keeps_its_tokens_in_the_state_directory_syncd_passes(
        tmp_path: Path) -> None:
    context = ConnectorContext(athlete="ana", timezone="Europe/Berlin",
                               state={"state_dir": tmp_path})
    assert GarminConnector(GarminSection(), context).token_dir == tmp_path / "garmin"
