"""The packaging files agree: one version, the same runtime requirements, package.xml declares
what the code imports, and the pins of requirements.txt satisfy them."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from packaging.requirements import Requirement

import lane_sad_core

REPO = Path(__file__).resolve().parents[1]

# pip name -> rosdep key of the same library (None: no key on every platform, see package.xml)
ROSDEP = {
    "torch": None,
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "opencv-python-headless": "python3-opencv",
    "pyyaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "rosbags": "python3-rosbags",
}
# imported module -> pip name, where they differ
PIP_NAME = {"cv2": "opencv-python-headless", "yaml": "pyyaml"}
# imported where present, never required: TensorRT ships with JetPack / NVIDIA's wheels
OPTIONAL = {"tensorrt"}


def setup_call() -> dict[str, object]:
    """The literal keyword arguments of setup.py's ``setup(...)`` call, read without running it."""
    tree = ast.parse((REPO / "setup.py").read_text())
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    out = {}
    for keyword in call.keywords:
        try:
            out[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            continue  # computed (the version)
    return out


def requirement_lines(path: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def package_xml() -> ET.Element:
    return ET.parse(REPO / "package.xml").getroot()


def imported_modules(package: str) -> set[str]:
    """Top-level third-party modules a package imports anywhere (function bodies included)."""
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and not m.startswith("lane_sad_")}


def test_one_version_everywhere():
    version = lane_sad_core.__version__
    assert package_xml().findtext("version") == version
    assert importlib.metadata.version("lane_sad") == version  # what setup.py installed (make setup)


def test_license_file_is_the_license_package_xml_and_setup_name():
    assert package_xml().findtext("license") == "Apache-2.0" == setup_call()["license"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "## [Unreleased]" in (REPO / "CHANGELOG.md").read_text()
    assert f"## [{lane_sad_core.__version__}]" in (REPO / "CHANGELOG.md").read_text()


def test_runtime_requirements_are_setup_pys():
    setup = setup_call()
    declared = [Requirement(r) for r in setup["install_requires"]] + [
        Requirement(r) for r in setup["extras_require"]["ros"]
    ]
    assert sorted(map(str, requirement_lines(REPO / "requirements-runtime.txt"))) == sorted(map(str, declared))


def test_the_pins_satisfy_the_runtime_requirements():
    pins = {r.name.lower(): r for r in requirement_lines(REPO / "requirements.txt")}
    for need in requirement_lines(REPO / "requirements-runtime.txt"):
        pin = pins[need.name.lower()]
        (exact,) = (s.version for s in pin.specifier)
        assert need.specifier.contains(exact), f"requirements.txt pins {pin}, the runtime needs {need}"


def test_package_xml_declares_what_the_code_imports():
    root = package_xml()
    exec_depends = {e.text for tag in ("depend", "exec_depend") for e in root.iter(tag)}
    runtime = {r.name for r in requirement_lines(REPO / "requirements-runtime.txt")}
    extras = {Requirement(r).name for rs in setup_call()["extras_require"].values() for r in rs}
    for name in runtime:
        key = ROSDEP[name]
        assert key is None or key in exec_depends, f"package.xml lacks <exec_depend>{key}</exec_depend> ({name})"
    for module in sorted(imported_modules("lane_sad_core") | imported_modules("lane_sad_ros")):
        pip = PIP_NAME.get(module, module)
        if pip in runtime or pip in extras or module in OPTIONAL:
            continue
        # everything else is ROS: a package of the ROS install (or this package's messages)
        assert module == "lane_sad" or module in exec_depends, f"{module} is imported but not declared anywhere"
