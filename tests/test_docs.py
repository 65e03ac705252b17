"""The documentation site builds in strict mode: a broken link, a missing page or a generated page
whose code fails (variant pages compile every variant for Lava) fails the build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0: noise here
    p = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    site = tmp_path / "site"
    from neurotep.variants import REGISTRY

    for name in REGISTRY:  # every registered variant has its page, with its Lava mapping
        html = (site / "variants" / name / "index.html").read_text()
        assert "On Lava" in html and "Loihi 2 core mapping" in html
    cli = (site / "cli" / "index.html").read_text()
    assert "neurotep compile" in cli and "--precision" in cli
    energy = (site / "energy" / "index.html").read_text()
    assert "synaptic_op" in energy and "Davies" in energy
    assert (site / "img" / "flow.svg").read_text().lstrip().startswith("<?xml")


def test_every_variant_is_in_the_site_navigation():
    """A new variant gets a generated page; it must also be listed in mkdocs.yml's nav."""
    from neurotep.variants import REGISTRY

    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [n for n in REGISTRY if f"variants/{n}.md" not in nav]
    assert not missing, f"add variants/<name>.md to mkdocs.yml's nav for: {missing}"
