import pytest

from bench.registry import Registry, UnknownNameError


def test_registry_lists_and_refuses_duplicates():
    registry = Registry("thing", "methods", "xai_bench.no_such_group")

    @registry.register("alpha")
    class Alpha:
        pass

    assert "alpha" in registry.names() and "atman" not in registry.names()
    assert registry.get("alpha") is Alpha
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("alpha")(object)
    with pytest.raises(UnknownNameError, match="unknown thing 'beta'; known things: alpha"):
        registry.get("beta")
