"""A demo package with a C extension: the farm builds a platform wheel."""

from ._fastsum import total

__all__ = ["total"]
