"""Every supported group, as the theory tests exercise it (several orders of the cyclic and dihedral ones)."""

GROUPS = [
    ("so2", None),
    ("o2", None),
    ("so3", None),
    ("o3", None),
    *[("cyclic", n) for n in (2, 3, 5, 8)],
    *[("dihedral", n) for n in (2, 3, 5, 6)],
    ("ico", None),
    ("octa", None),
    ("full_ico", None),
    ("full_octa", None),
    ("cylinder", None),
    ("full_cylinder", None),
]
