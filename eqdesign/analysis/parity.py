"""Hidden symmetries: the inversion that most SO(3) networks commute with although nobody asked them to.

Give every degree-l irrep of SO(3) the parity (-1)^l of the spherical harmonics. Linear layers (real l -> l
blocks), sphere layers (the antipodal map multiplies a degree-l harmonic by (-1)^l and commutes with a
pointwise activation), gated and norm layers, ELU on scalars and tensor products whose every path
l1 x l2 -> l3 has an even l1 + l2 + l3 all commute with that inversion. A network of such layers is O(3)
equivariant in disguise: its outputs are natural-parity functions of natural-parity inputs. It can never make
an axial vector (a torque) out of polar ones, and a sphere channel fed only even degrees never makes odd ones.

The analysis therefore runs a second time on the *lifted* design: every SO(3) irrep l becomes the two O(3)
irreps (l, +) and (l, -), its parity sectors. The input holds the sectors its fields declare (natural when
none is declared). Linear, tensor and norm layers need no special rule: O(3)'s own Clebsch-Gordan series
multiplies the parities, so an odd path lands in the other sector by itself. The rules that do differ are in
dataflow (sphere channels, gates, layer norms), each marked ``lift``. A layer that breaks the inversion is
analysed as it is: it then fills both sectors, as far as O(3)'s ideal bound of its input allows.

The other quotient layers have no hidden symmetry of this kind: a layer on G/H also commutes with N(H)/H
acting on G/H from the right, and that action is the left action of a central element of G for O(3)'s sphere
(O(3)/O(2): the inversion) and O(2)'s circle (O(2)/{1, reflection}: the half-turn), which every equivariant
layer commutes with already. Only SO(3)'s sphere has a right action (the antipodal map) that G lacks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ..theory.group import Group
from ..theory.irreps import Irrep, id_pair
from ..theory.notation import Field
from ..theory.registry import make_group
from .design import Design, FieldType, Linear, Nonlinear

#: the parity sectors of an SO(3) irrep, by the name a report gives them
SECTORS = ("natural", "unnatural")


@dataclass(frozen=True)
class Lift:
    """SO(3) irreps and their parity sectors, which are O(3) irreps."""

    base: Group
    group: Group

    def up(self, irrep: Irrep, parity: int) -> Irrep:
        """The sector of ``irrep`` with this parity under x -> -x (+1 even, -1 odd)."""
        found = self.group.irrep_by_name(f"{irrep.freq}{'e' if parity > 0 else 'o'}")
        assert found is not None
        return found

    def natural(self, irrep: Irrep) -> Irrep:
        return self.up(irrep, (-1) ** irrep.freq)

    def sectors(self, irrep: Irrep) -> tuple[Irrep, Irrep]:
        """(natural, unnatural) sectors of an SO(3) irrep."""
        nat = self.natural(irrep)
        return nat, self.up(irrep, -((-1) ** irrep.freq))

    def down(self, lifted: Irrep) -> Irrep:
        found = self.base.irrep_by_name(str(lifted.freq))
        assert found is not None
        return found

    def is_natural(self, lifted: Irrep) -> bool:
        return lifted == self.natural(self.down(lifted))

    def partner(self, lifted: Irrep) -> Irrep:
        """The other sector of the same SO(3) irrep."""
        nat, unnat = self.sectors(self.down(lifted))
        return unnat if lifted == nat else nat

    def parity(self, lifted: Irrep) -> int:
        """+1 for an even sector, -1 for an odd one."""
        j, _ = id_pair(lifted.eid)
        return -1 if j else 1

    def sector_name(self, lifted: Irrep) -> str:
        return SECTORS[0] if self.is_natural(lifted) else SECTORS[1]

    def spell(self, lifted: Irrep) -> str:
        """How an SO(3) spec writes the sector: ``2_even``, or its name (``pseudovector``)."""
        named = {"0o": "pseudoscalar", "1o": "polar_vector", "1e": "pseudovector"}
        return named.get(lifted.name, f"{lifted.freq}_{'even' if self.parity(lifted) > 0 else 'odd'}")


def lift_for(group: Group) -> Lift | None:
    """The lift of a group whose networks can hide an inversion (SO(3) only), else None."""
    return Lift(group, make_group("o3")) if group.key == "so3" else None


def declared(field: Field, lift: Lift) -> list[Irrep]:
    """The sectors a field holds as declared: its parities, or the natural ones where it declares none."""
    parities = field.parity or tuple((-1) ** i.freq for i in field.irreps)
    return [lift.up(i, p) for i, p in zip(field.irreps, parities, strict=True)]


def _both(field: Field, lift: Lift) -> Field:
    return Field(field.name, tuple(s for i in field.irreps for s in lift.sectors(i)), field.basis)


def _lift_type(t: FieldType, lift: Lift) -> FieldType:
    return FieldType(tuple((_both(f, lift), m) for f, m in t.entries))


def _lift_counter(c: Counter[Irrep], lift: Lift) -> Counter[Irrep]:
    out: Counter[Irrep] = Counter()
    for i, m in c.items():
        for s in lift.sectors(i):
            out[s] += m
    return out


def lifted_design(design: Design, lift: Lift) -> Design:
    """The same architecture over the sectors: the input as declared, every later field with both sectors."""
    source = FieldType(tuple((Field(f.name, tuple(declared(f, lift)), f.basis), m) for f, m in design.input.entries))
    layers: list[Linear | Nonlinear] = []
    for layer in design.layers:
        in_type, out_type = _lift_type(layer.in_type, lift), _lift_type(layer.out_type, lift)
        if isinstance(layer, Linear):
            layers.append(replace(layer, in_type=in_type, out_type=out_type, trivial=lift.group.trivial))
        else:
            layers.append(replace(layer, in_type=in_type, out_type=out_type, channel=_lift_counter(layer.channel, lift)))
    if layers:
        layers[0] = replace(layers[0], in_type=source)
    return replace(design, group=lift.group, input=source, output=_lift_type(design.output, lift), layers=tuple(layers))


def breaks_inversion(layer: Nonlinear) -> bool:
    """Whether a hidden layer of an SO(3) network can turn natural-parity fields into unnatural ones.

    A regular Fourier layer can (measured: it learns a torque). A tensor product can when its field holds a
    path with an odd l1 + l2 + l3: two copies of an irrep of degree >= 1 (the antisymmetric square, the cross
    product), or two different irreps of degree >= 1 (1 x 2 -> 2). Paths with a scalar (0 x l -> l) and the
    symmetric square of one copy have even sums."""
    if layer.kind == "fourier":
        return True
    if layer.kind != "tensor":
        return False
    moving = [i for i in layer.channel if i.freq > 0]
    return len(moving) > 1 or any(layer.channel[i] > 1 for i in moving)
