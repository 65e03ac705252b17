"""neurotep's Lava parts import on Python 3.10 and fail with one clear line elsewhere."""

import importlib

import pytest

from neurotep.errors import BackendError


def test_lava_imports_here():
    mod = importlib.import_module("neurotep.backends.lava")
    import lava

    assert lava.__path__ and mod.require_lava() is None


def test_wrong_python_is_one_clear_line():
    from neurotep.backends.lava import require_lava

    with pytest.raises(BackendError, match=r"needs Python 3\.10 .* this is Python 3\.11") as e:
        require_lava((3, 11, 7))
    assert "\n" not in str(e.value)
