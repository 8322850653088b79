"""The base of every platform component: its type token, one child-options helper, declared outputs.

A component declares its outputs on the class, typed, as `Out[...]`:

    class Network(Component, token="platform:network:Network"):
        vpc_id: Out[pulumi.Output[str]]

`finish()` registers exactly the declared outputs (so state, docstring and code cannot disagree) and
fails if one was never set; the class docstring gains an "Outputs:" line generated from the same
declaration. Resource handles other components use (a task role, a topic) are plain typed attributes:
they are not outputs, since a resource is not a value to record in state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

import pulumi

T = TypeVar("T")


class _Output:
    """The marker `Out` puts on an annotation."""


OUTPUT = _Output()
Out = Annotated[T, OUTPUT]
"""A declared output: registered by `Component.finish()`, listed in the class docstring."""


def _is_output(annotation: object) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`: the annotation's source
        return annotation.startswith(("Out[", "base.Out["))
    return get_origin(annotation) is Annotated and OUTPUT in get_args(annotation)[1:]


class Component(pulumi.ComponentResource):
    token: ClassVar[str]
    """The component's type token, `platform:<area>:<Name>`, part of every child's URN."""
    output_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if token is not None:
            cls.token = token
        own = tuple(name for name, annotation in vars(cls).get("__annotations__", {}).items() if _is_output(annotation))
        cls.output_names = (*cls.output_names, *own)
        if cls.output_names:
            listed = ", ".join(f"`{name}`" for name in cls.output_names)
            cls.__doc__ = f"{(cls.__doc__ or '').rstrip()}\n\nOutputs: {listed}."

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.token, name, None, opts)
        self._name = name

    def child(
        self,
        *,
        depends_on: Sequence[pulumi.Resource] | None = None,
        protect: bool | None = None,
        additional_secret_outputs: Sequence[str] | None = None,
        ignore_changes: Sequence[str] | None = None,
    ) -> pulumi.ResourceOptions:
        """Options of a resource this component owns: parented here, plus what that resource needs."""
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=list(depends_on) if depends_on is not None else None,
            protect=protect,
            additional_secret_outputs=list(additional_secret_outputs) if additional_secret_outputs else None,
            ignore_changes=list(ignore_changes) if ignore_changes else None,
        )

    def finish(self) -> None:
        """Register the declared outputs; a declared output never set is a bug in the component."""
        missing = [name for name in self.output_names if not hasattr(self, name)]
        if missing:
            raise AttributeError(f"{type(self).__name__} declares outputs it never sets: {', '.join(missing)}")
        self.register_outputs({name: getattr(self, name) for name in self.output_names})
