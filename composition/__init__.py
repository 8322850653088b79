"""The composition: the one place that knows the whole platform and wires its components together.

`composition.platform.Platform` is what `__main__.py` builds; nothing imports this package but the
program and the tools that run it offline.
"""
