"""eqdesign: design, check, build and export equivariant MLPs."""

__version__ = "0.1.0"
