"""Every framework adapter implements the declared interface (`graders.check.kernel.frameworks.Adapter`)."""

import inspect

import pytest

from graders.check.kernel import frameworks
from graders.check.shared.protocol import FRAMEWORKS

MEMBERS = [name for name in vars(frameworks.Adapter) if not name.startswith("_")] + list(frameworks.Adapter.__annotations__)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_adapter_implements_every_member_of_the_interface(framework):
    adapter = frameworks.load(framework)
    missing = [name for name in MEMBERS if not hasattr(adapter, name)]
    assert not missing, f"graders/check/kernel/frameworks/{framework}.py lacks {missing} of frameworks.Adapter"
    assert adapter.NAME == framework
    for name in MEMBERS:
        declared = getattr(frameworks.Adapter, name, None)
        if inspect.isfunction(declared):  # called by position: the same number of parameters (TF1's optimizer is a train_op)
            wanted = [p for p in inspect.signature(declared).parameters.values() if p.name != "self"]
            found = list(inspect.signature(getattr(adapter, name)).parameters.values())
            assert [p.default is p.empty for p in found] == [p.default is p.empty for p in wanted], (
                f"{framework}.{name}{inspect.signature(getattr(adapter, name))}: expected parameters like {wanted}")


def test_an_unknown_framework_is_named():
    with pytest.raises(ValueError, match="unknown framework 'jax'; expected one of tf1, tf2, torch"):
        frameworks.load("jax")
