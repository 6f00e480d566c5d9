"""Reference semantics of Surge 2.0's filter options and extra elements, in plain Python.

Clean-room reconstruction from Surge's user manual, fitted against what upstream Surge 2.0
printed (``shared/reference/surge2``: counts per formula and option set, SMILES sets); the
definitions in prose, with the match figures, are in ``cloudsurge_dask/engine/SEMANTICS.md``.

A molecule is a :class:`Mol`: heavy atoms (Surge input names, so ``Nx`` keeps valence 5;
halogens are heavy atoms), bonds ``(i, j, multiplicity)`` and the hydrogens on each atom.
Everything here is exhaustive and meant for small molecules:

* :class:`Options` parses a Surge option string (``"-B1,2 -R -p0 -e5:6 -c3 -EAs3"``);
  :func:`passes` is the per-molecule filter (everything but ``-R``), :func:`aromatic_key`
  the class key of ``-R`` and :func:`filtered_count` the count Surge reports.
* :func:`formula_error` says whether (and why) Surge refuses a formula under given options.
* :func:`enumerate_formula` is a brute-force generator (all bond-multiplicity matrices,
  isomorphs merged by a canonical form), extra and ``-E`` elements included, for a handful of
  heavy atoms; :func:`mol_from_smiles` reads Surge's ``-S`` output (needs RDKit).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

# ---------------------------------------------------------------------------------------------
# Elements and formulae


@dataclass(frozen=True)
class Element:
    """An element as Surge knows it: input name, output symbol, valence, max-coord."""

    name: str
    symbol: str
    valence: int
    maxcoord: int


ELEMENTS: dict[str, Element] = {
    e.name: e
    for e in (
        Element("C", "C", 4, 4),
        Element("N", "N", 3, 3),
        Element("Nx", "N", 5, 4),
        Element("O", "O", 2, 2),
        Element("P", "P", 3, 3),
        Element("Px", "P", 5, 5),
        Element("S", "S", 2, 2),
        Element("Sx", "S", 4, 4),
        Element("Sy", "S", 6, 6),
        Element("F", "F", 1, 1),
        Element("Cl", "Cl", 1, 1),
        Element("Br", "Br", 1, 1),
        Element("I", "I", 1, 1),
        Element("B", "B", 3, 3),
        Element("Si", "Si", 4, 4),
    )
}


def parse_extra_element(option: str) -> Element:
    """``-EXv``, ``-EXYv``, ``-EXvc`` or ``-EXYvc`` (the leading ``-E`` is optional)."""
    text = option.removeprefix("-E")
    match = re.fullmatch(r"([A-Z][a-z]?)([A-Z][a-z]?)?(\d)(\d)?", text)
    if not match:
        raise ValueError(f"bad -E option {option!r}")
    name, symbol, valence, maxcoord = match.groups()
    return Element(name, symbol or name, int(valence), int(maxcoord or valence))


def parse_formula(
    formula: str, table: dict[str, Element] | None = None
) -> tuple[list[Element], int]:
    """Heavy atoms (in formula order, input names resolved) and the number of hydrogens."""
    known = ELEMENTS if table is None else table
    atoms: list[Element] = []
    hydrogens = 0
    pos = 0
    names = sorted(known, key=len, reverse=True)
    while pos < len(formula):
        if formula[pos] == "H" and not formula.startswith(("Hf", "Hg", "Ho", "He"), pos):
            name = "H"
        else:
            name = next((n for n in names if formula.startswith(n, pos)), "")
            if not name:
                raise ValueError(f"unknown element at {formula[pos:]!r} in {formula!r}")
        pos += len(name)
        digits = re.match(r"\d*", formula[pos:])
        text = digits.group(0) if digits else ""
        pos += len(text)
        count = int(text) if text else 1
        if name == "H":
            hydrogens += count
        else:
            atoms.extend([known[name]] * count)
    return atoms, hydrogens


# ---------------------------------------------------------------------------------------------
# Options


Range = tuple[int, int]
UNBOUNDED = 1 << 30


def _parse_range(text: str, option: str) -> Range:
    match = re.fullmatch(r"(\d*)(?:([:-])(\d*))?", text)
    if not match or (not match.group(1) and not match.group(2)):
        raise ValueError(f"bad range in {option!r}")
    low = int(match.group(1)) if match.group(1) else 0
    if match.group(2) is None:
        return low, low
    high = int(match.group(3)) if match.group(3) else UNBOUNDED
    return low, high


@dataclass
class Options:
    """The Surge options that change which molecules are counted (output options ignored)."""

    bsets: set[int] = field(default_factory=set)
    aromatic: bool = False  # -R
    no_triple: bool = False  # -T
    planar: bool = False  # -P
    bipartite: bool = False  # -b
    cycles: dict[int, Range] = field(default_factory=dict)  # -t -f -p -h: length -> range
    carbon_6rings: Range | None = None  # -C
    edges: Range | None = None  # -e
    maxd: int = 4  # -d
    maxc: int = 4  # -c
    extra: dict[str, Element] = field(default_factory=dict)  # -E

    @classmethod
    def parse(cls, text: str | Sequence[str]) -> Options:
        opts = cls()
        words = text.split() if isinstance(text, str) else list(text)
        for word in words:
            if not word.startswith("-") or len(word) < 2:
                raise ValueError(f"bad option {word!r}")
            if word.startswith("-E"):
                element = parse_extra_element(word)
                opts.extra[element.name] = element
                continue
            rest = word[1:]
            while rest:
                letter, rest = rest[0], rest[1:]
                value = re.match(r"[\d,:\-]*", rest)
                arg = value.group(0) if value else ""
                if letter in "uSAFzv":
                    continue
                rest = rest[len(arg) :]
                if letter == "B":
                    opts.bsets.update(int(x) for x in arg.split(",") if x)
                elif letter == "R":
                    opts.aromatic = True
                elif letter == "T":
                    opts.no_triple = True
                elif letter == "P":
                    opts.planar = True
                elif letter == "b":
                    opts.bipartite = True
                elif letter in "tfph":
                    opts.cycles["tfph".index(letter) + 3] = _parse_range(arg, word)
                elif letter == "C":
                    opts.carbon_6rings = _parse_range(arg, word)
                elif letter == "e":
                    opts.edges = _parse_range(arg, word)
                elif letter == "d":
                    opts.maxd = int(arg)
                elif letter == "c":
                    opts.maxc = int(arg)
                else:
                    raise ValueError(f"unsupported option letter {letter!r} in {word!r}")
        return opts

    @property
    def table(self) -> dict[str, Element]:
        return {**ELEMENTS, **self.extra}


# ---------------------------------------------------------------------------------------------
# Molecules


@dataclass(frozen=True)
class Mol:
    """Heavy-atom graph: element input names, bonds ``(i, j, mult)`` with ``i < j``, hydrogens.

    ``table`` resolves the names (defaults to :data:`ELEMENTS`).
    """

    names: tuple[str, ...]
    bonds: tuple[tuple[int, int, int], ...]
    hydrogens: tuple[int, ...]
    table: dict[str, Element] = field(default_factory=lambda: ELEMENTS, compare=False, repr=False)

    @property
    def n(self) -> int:
        return len(self.names)

    @cached_property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.table[name].symbol for name in self.names)

    @cached_property
    def adj(self) -> list[frozenset[int]]:
        adj: list[set[int]] = [set() for _ in self.names]
        for i, j, _ in self.bonds:
            adj[i].add(j)
            adj[j].add(i)
        return [frozenset(a) for a in adj]

    @cached_property
    def _mult(self) -> dict[tuple[int, int], int]:
        table: dict[tuple[int, int], int] = {}
        for i, j, m in self.bonds:
            table[(i, j)] = m
            table[(j, i)] = m
        return table

    def mult(self, i: int, j: int) -> int:
        """Bond multiplicity between atoms i and j (0 if not bonded)."""
        return self._mult.get((i, j), 0)

    def degree(self, v: int) -> int:
        """Number of heavy-atom neighbours."""
        return len(self.adj[v])

    def coordination(self, v: int) -> int:
        """Distinct neighbours including hydrogen."""
        return len(self.adj[v]) + self.hydrogens[v]

    @cached_property
    def cycles(self) -> list[tuple[int, ...]]:
        """Every simple cycle once: vertex sequence from its smallest vertex, one direction."""
        found: list[tuple[int, ...]] = []
        for start in range(self.n):
            stack: list[tuple[int, tuple[int, ...]]] = [(start, (start,))]
            while stack:
                v, path = stack.pop()
                for w in self.adj[v]:
                    if w == start and len(path) >= 3 and path[1] < path[-1]:
                        found.append(path)
                    elif w > start and w not in path:
                        stack.append((w, (*path, w)))
        return found

    def is_ring(self, cycle: Sequence[int]) -> bool:
        """A ring is a chord-free (induced) cycle."""
        size = len(cycle)
        for a in range(size):
            for b in range(a + 2, size):
                if not (a == 0 and b == size - 1) and cycle[b] in self.adj[cycle[a]]:
                    return False
        return True

    @cached_property
    def rings(self) -> list[tuple[int, ...]]:
        return [c for c in self.cycles if self.is_ring(c)]

    def with_bonds(self, bonds: Iterable[tuple[int, int, int]]) -> Mol:
        return Mol(self.names, tuple(sorted(bonds)), self.hydrogens, self.table)


def cycle_edges(cycle: Sequence[int]) -> set[frozenset[int]]:
    """The bonds of a cycle, as vertex pairs."""
    size = len(cycle)
    return {frozenset((cycle[k], cycle[(k + 1) % size])) for k in range(size)}


def mol_from_smiles(smiles: str, table: dict[str, Element] | None = None) -> Mol:
    """Read a SMILES as Surge writes it (hydrogens = valence - bond order sum).

    Atoms get the standard input name of their symbol; for the extra valences (``Nx``,
    ``Px``, ``Sx``, ``Sy``) the name is chosen from the bond order sum plus written hydrogens.
    """
    from rdkit import Chem

    known = ELEMENTS if table is None else table
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        raise ValueError(f"unreadable SMILES {smiles!r}")
    bonds: list[tuple[int, int, int]] = []
    for bond in mol.GetBonds():
        i, j = sorted((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()))
        bonds.append((i, j, int(bond.GetBondTypeAsDouble())))
    total = [0] * mol.GetNumAtoms()
    for i, j, m in bonds:
        total[i] += m
        total[j] += m
    names: list[str] = []
    hyd: list[int] = []
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol()
        explicit = atom.GetNumExplicitHs()
        candidates = sorted(
            (e for e in known.values() if e.symbol == symbol), key=lambda e: e.valence
        )
        if not candidates:
            raise ValueError(f"unknown element {symbol!r} in {smiles!r}")
        bracket = atom.GetNoImplicit() or explicit > 0
        used = total[atom.GetIdx()] + explicit
        if bracket:
            chosen = next((e for e in candidates if e.valence == used), candidates[-1])
            h = explicit
        else:
            chosen = next((e for e in candidates if e.valence >= used), candidates[-1])
            h = chosen.valence - total[atom.GetIdx()]
        names.append(chosen.name)
        hyd.append(h)
    return Mol(tuple(names), tuple(sorted(bonds)), tuple(hyd), known)


# ---------------------------------------------------------------------------------------------
# Filters


def b1(mol: Mol) -> bool:
    """-B1: no triple bond on a cycle (equivalently a ring) of length <= 7."""
    for cycle in mol.cycles:
        if len(cycle) <= 7 and any(mol.mult(*tuple(e)) == 3 for e in cycle_edges(cycle)):
            return False
    return True


_B2_BOTH = {frozenset({3}), frozenset({3, 4}), frozenset({3, 5})}
_B2_F = {frozenset({3, 6}), frozenset({4}), frozenset({4, 5})}
_B3 = {frozenset({4}), frozenset({4, 5}), frozenset({4, 6}), frozenset({5}), frozenset({5, 6})}


Edges = set[frozenset[int]]
RingPair = tuple[tuple[int, ...], tuple[int, ...], Edges, Edges, Edges]


def _ring_pairs(mol: Mol, sizes: int, shared: int) -> Iterator[RingPair]:
    rings = [(r, cycle_edges(r)) for r in mol.rings if len(r) <= sizes]
    for (r1, e1), (r2, e2) in itertools.combinations(rings, 2):
        common = e1 & e2
        if len(common) == shared:
            yield r1, r2, e1, e2, common


def _multiple(mol: Mol, edge: frozenset[int]) -> bool:
    i, j = tuple(edge)
    return mol.mult(i, j) >= 2


def b2(mol: Mol) -> bool:
    """-B2: rings (chord-free) of sizes r, s sharing exactly one bond e.

    f ranges over the bonds of either ring with exactly one atom in e (the four ring bonds
    next to e).  {3,3}, {3,4}, {3,5}: e and every f single.  {3,6}, {4,4}, {4,5}: every f
    single.  "Single" means multiplicity 1: double and triple bonds are both forbidden.
    """
    for r1, r2, e1, e2, common in _ring_pairs(mol, 6, 1):
        key = frozenset({len(r1), len(r2)})
        if key not in _B2_BOTH and key not in _B2_F:
            continue
        (e,) = common
        if key in _B2_BOTH and _multiple(mol, e):
            return False
        if any(len(f & e) == 1 and _multiple(mol, f) for f in e1 | e2):
            return False
    return True


def b3(mol: Mol) -> bool:
    """-B3: rings of sizes {4,4},{4,5},{4,6},{5,5},{5,6} sharing exactly two bonds.

    The shared bonds form a path a-b-c; both shared bonds and every bond of either ring with
    exactly one atom in a shared bond (so every ring bond at a, b or c) must be single.
    """
    for r1, r2, e1, e2, common in _ring_pairs(mol, 6, 2):
        if frozenset({len(r1), len(r2)}) not in _B3:
            continue
        for e in common:
            if _multiple(mol, e):
                return False
            if any(len(f & e) == 1 and _multiple(mol, f) for f in e1 | e2):
                return False
    return True


def b4(mol: Mol) -> bool:
    """-B4: two 6-rings sharing exactly three bonds: every bond of one ring with exactly one
    atom in the other ring is single."""
    for r1, r2, e1, e2, _ in _ring_pairs(mol, 6, 3):
        if len(r1) != 6 or len(r2) != 6:
            continue
        v1, v2 = set(r1), set(r2)
        for f in e1:
            if len(f & v2) == 1 and _multiple(mol, f):
                return False
        for f in e2:
            if len(f & v1) == 1 and _multiple(mol, f):
                return False
    return True


def _cumulated(mol: Mol, v: int) -> bool:
    """Exactly two heavy neighbours, both bonds double or triple."""
    return mol.degree(v) == 2 and all(mol.mult(v, w) >= 2 for w in mol.adj[v])


def b5(mol: Mol) -> bool:
    """-B5: no atom with exactly two heavy neighbours, both by multiple bonds (H ignored)."""
    return not any(_cumulated(mol, v) for v in range(mol.n))


def b6(mol: Mol) -> bool:
    """-B6: as -B5, restricted to atoms on a cycle (ring) of length <= 8."""
    bad = {v for v in range(mol.n) if _cumulated(mol, v)}
    if not bad:
        return True
    return not any(len(c) <= 8 and bad.intersection(c) for c in mol.cycles)


def b7(mol: Mol) -> bool:
    """-B7: no two atoms with >= 4 common neighbours, no three with >= 3 (heavy graph)."""
    for a, b in itertools.combinations(range(mol.n), 2):
        common = mol.adj[a] & mol.adj[b]
        if len(common) >= 4:
            return False
        if len(common) >= 3:
            for c in range(b + 1, mol.n):
                if len(common & mol.adj[c]) >= 3:
                    return False
    return True


def b8(mol: Mol) -> bool:
    """-B8: no 5-cycle with an atom adjacent to the other four; no K4 sharing exactly one
    bond with a 4-cycle."""
    for cycle in mol.cycles:
        if len(cycle) == 5 and any(all(w in mol.adj[v] for w in cycle if w != v) for v in cycle):
            return False
    fours = [cycle_edges(c) for c in mol.cycles if len(c) == 4]
    for quad in itertools.combinations(range(mol.n), 4):
        if all(b in mol.adj[a] for a, b in itertools.combinations(quad, 2)):
            inside = {frozenset(p) for p in itertools.combinations(quad, 2)}
            if any(len(c & inside) == 1 for c in fours):
                return False
    return True


def b9(mol: Mol) -> bool:
    """-B9: every atom on at most one cycle of length 3 or 4."""
    count = [0] * mol.n
    for cycle in mol.cycles:
        if len(cycle) <= 4:
            for v in cycle:
                count[v] += 1
                if count[v] > 1:
                    return False
    return True


BFILTERS: dict[int, Callable[[Mol], bool]] = {
    1: b1,
    2: b2,
    3: b3,
    4: b4,
    5: b5,
    6: b6,
    7: b7,
    8: b8,
    9: b9,
}


def is_planar(mol: Mol) -> bool:
    """Planarity of the heavy-atom graph (exhaustive; fine for small graphs)."""
    adj = {v: set(mol.adj[v]) for v in range(mol.n)}
    changed = True
    while changed:  # drop vertices of degree <= 1, smooth vertices of degree 2
        changed = False
        for v in list(adj):
            if len(adj[v]) <= 1:
                for w in adj.pop(v):
                    adj[w].discard(v)
                changed = True
            elif len(adj[v]) == 2:
                a, b = adj.pop(v)
                adj[a].discard(v)
                adj[b].discard(v)
                adj[a].add(b)
                adj[b].add(a)
                changed = True
    nv = len(adj)
    ne = sum(len(a) for a in adj.values()) // 2
    if nv < 5 or ne < 9:
        return True
    if ne > 3 * nv - 6:
        return False
    verts = sorted(adj)
    comps = _components(adj)
    rotations = [list(itertools.permutations(sorted(adj[v])[1:])) for v in verts]
    for choice in itertools.product(*rotations):
        succ: dict[tuple[int, int], int] = {}
        for v, rest in zip(verts, choice, strict=True):
            order = [min(adj[v]), *rest]
            for k, w in enumerate(order):
                succ[(v, w)] = order[(k + 1) % len(order)]
        seen: set[tuple[int, int]] = set()
        faces = 0
        for dart in succ:
            if dart in seen:
                continue
            faces += 1
            d = dart
            while d not in seen:
                seen.add(d)
                v, w = d
                d = (w, succ[(w, v)])
        if nv - ne + faces == 1 + comps:
            return True
    return False


def _components(adj: dict[int, set[int]]) -> int:
    seen: set[int] = set()
    count = 0
    for v in adj:
        if v in seen:
            continue
        count += 1
        stack = [v]
        while stack:
            u = stack.pop()
            if u not in seen:
                seen.add(u)
                stack.extend(adj[u] - seen)
    return count


def _in(value: int, bounds: Range) -> bool:
    return bounds[0] <= value <= bounds[1]


def passes(mol: Mol, opts: Options) -> bool:
    """Every per-molecule filter of ``opts`` (all but the class filter -R).

    -t/-f/-p/-h count cycles (not rings) of length 3/4/5/6 and are not applied to molecules
    with a single heavy atom; -C counts 6-rings (chord-free) of carbon atoms and is applied.
    """
    if opts.no_triple and any(m == 3 for _, _, m in mol.bonds):
        return False
    if opts.edges is not None and not _in(len(mol.bonds), opts.edges):
        return False
    for v, name in enumerate(mol.names):
        if not atom_ok(mol.table[name], mol.degree(v), mol.hydrogens[v], opts):
            return False
    if opts.cycles and mol.n > 1:
        for length, bounds in opts.cycles.items():
            if not _in(sum(1 for c in mol.cycles if len(c) == length), bounds):
                return False
    if opts.bipartite and any(len(c) % 2 for c in mol.cycles):
        return False
    if opts.carbon_6rings is not None:
        count = sum(1 for r in mol.rings if len(r) == 6 and all(mol.symbols[v] == "C" for v in r))
        if not _in(count, opts.carbon_6rings):
            return False
    if opts.planar and not is_planar(mol):
        return False
    return all(BFILTERS[k](mol) for k in sorted(opts.bsets))


# ---------------------------------------------------------------------------------------------
# -R: aromatic equivalence classes


def aromatic_cycles(mol: Mol) -> list[tuple[int, ...]]:
    """Cycles (not necessarily chord-free) of carbon atoms with length = 2 (mod 4)."""
    return [c for c in mol.cycles if len(c) % 4 == 2 and all(mol.symbols[v] == "C" for v in c)]


def rotations(mol: Mol) -> list[Mol]:
    """Every molecule reachable by rotating aromatic cycles (alternating single/double)."""
    cycles_seq: list[list[tuple[int, int]]] = []
    for c in aromatic_cycles(mol):
        pairs = [(c[k], c[(k + 1) % len(c)]) for k in range(len(c))]
        cycles_seq.append([(min(a, b), max(a, b)) for a, b in pairs])
    start = {(i, j): m for i, j, m in mol.bonds}
    key0 = tuple(sorted(start.items()))
    seen = {key0}
    stack = [start]
    while stack:
        state = stack.pop()
        for seq in cycles_seq:
            mults = [state[e] for e in seq]
            size = len(seq)
            if all(m in (1, 2) for m in mults) and all(
                mults[k] != mults[(k + 1) % size] for k in range(size)
            ):
                new = dict(state)
                for e in seq:
                    new[e] = 3 - new[e]
                key = tuple(sorted(new.items()))
                if key not in seen:
                    seen.add(key)
                    stack.append(new)
    return [mol.with_bonds((i, j, m) for (i, j), m in key) for key in seen]


def aromatic_key(mol: Mol) -> tuple[object, ...]:
    """-R class key: the least canonical form over the rotation closure."""
    return min(canonical_form(m) for m in rotations(mol))


# ---------------------------------------------------------------------------------------------
# Canonical form (brute force over element-preserving permutations)


def canonical_form(mol: Mol) -> tuple[object, ...]:
    """An isomorphism-invariant key: least (names, hydrogens, bond matrix) over relabellings.

    Refines by (name, hydrogens, degree, sorted bond multiplicities) first, so only
    permutations inside those classes are tried.
    """
    n = mol.n
    inv = [
        (
            mol.names[v],
            mol.hydrogens[v],
            mol.degree(v),
            tuple(sorted(mol.mult(v, w) for w in mol.adj[v])),
        )
        for v in range(n)
    ]
    order = sorted(range(n), key=lambda v: inv[v])
    groups: list[list[int]] = []
    for v in order:
        if groups and inv[groups[-1][0]] == inv[v]:
            groups[-1].append(v)
        else:
            groups.append([v])
    best: tuple[int, ...] | None = None
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        labelling = [v for p in perms for v in p]
        matrix = tuple(
            mol.mult(labelling[a], labelling[b]) for a in range(n) for b in range(a + 1, n)
        )
        if best is None or matrix < best:
            best = matrix
    return (tuple(inv[v] for v in order), best)


# ---------------------------------------------------------------------------------------------
# Formula-level rules: when Surge refuses a formula


@dataclass(frozen=True)
class FormulaInfo:
    """What Surge derives from a formula before generating (cf. its stderr header line)."""

    n: int
    hydrogens: int
    dbe2: int  # 2 * double-bond equivalents = sum(valence - 2) + 2 - H
    emin: int
    emax: int


def formula_info(atoms: Sequence[Element], hydrogens: int) -> FormulaInfo:
    n = len(atoms)
    dbe2 = sum(a.valence - 2 for a in atoms) + 2 - hydrogens
    emin = max(n - 1, 0)
    if hydrogens == 0 and n > 1:
        mindeg = min((a.valence + 2) // 3 for a in atoms)
        emin = max(emin, (n * mindeg + 1) // 2)
    emax = min(n - 1 + dbe2 // 2, n * (n - 1) // 2)
    return FormulaInfo(n, hydrogens, dbe2, emin, emax)


def formula_error(formula: str, options: str | Options = "") -> str | None:
    """Why Surge exits non-zero for this formula and these options, or None if it runs.

    * parity: sum(valence) - H odd, or negative double-bond equivalents;
    * edges: the edge range [emin, emax] (intersected with -e) is empty;
    * coordination: sum over distinct elements of max(0, valence - min(maxcoord, -c)) is
      more than 2 * DBE.
    """
    opts = options if isinstance(options, Options) else Options.parse(options)
    atoms, hydrogens = parse_formula(formula, opts.table)
    info = formula_info(atoms, hydrogens)
    if info.dbe2 < 0 or info.dbe2 % 2:
        return "parity"
    low, high = info.emin, info.emax
    if opts.edges is not None:
        low, high = max(low, opts.edges[0]), min(high, opts.edges[1])
    if low > high:
        return "edges"
    need = sum(max(0, a.valence - min(a.maxcoord, opts.maxc)) for a in set(atoms))
    if need > info.dbe2:
        return "coordination"
    return None


# ---------------------------------------------------------------------------------------------
# Brute-force enumeration


def atom_ok(element: Element, degree: int, hydrogens: int, opts: Options) -> bool:
    """Surge's per-atom neighbourhood rules (degree = heavy neighbours).

    coordination (degree + H) <= min(max-coord of the element, -c); degree <= -d; an atom
    with >= 5 neighbours carries no H; nitrogen (N or Nx) has <= 4 neighbours.  Measured only
    with the defaults -c4 -d4 (and -c3, -d2, -d3 on C N O S F Cl Br I), where this reduces to
    coordination <= 4 and degree <= -d.
    """
    coordination = degree + hydrogens
    if coordination > min(element.maxcoord, opts.maxc):
        return False
    if degree > opts.maxd:
        return False
    if coordination >= 5 and hydrogens > 0:
        return False
    return not (element.symbol == "N" and coordination > 4)


def enumerate_formula(formula: str, options: str | Options = "") -> list[Mol]:
    """Every molecule Surge generates for a formula under per-molecule filters (no -R).

    Brute force over all bond-multiplicity matrices; meant for up to about 5 heavy atoms.
    Returns [] when Surge would refuse the formula (see :func:`formula_error`).
    """
    opts = options if isinstance(options, Options) else Options.parse(options)
    atoms, hydrogens = parse_formula(formula, opts.table)
    if formula_error(formula, opts) is not None:
        return []
    n = len(atoms)
    names = tuple(a.name for a in atoms)
    pairs = list(itertools.combinations(range(n), 2))
    found: dict[tuple[object, ...], Mol] = {}
    valence = [a.valence for a in atoms]
    budget = (sum(valence) - hydrogens) // 2  # total bond order

    def rec(k: int, used: list[int], left: int, bonds: list[tuple[int, int, int]]) -> None:
        if k == len(pairs):
            if left:
                return
            hyd = tuple(valence[v] - used[v] for v in range(n))
            mol = Mol(names, tuple(bonds), hyd, opts.table)
            if _connected(mol) and passes(mol, opts):
                found.setdefault(canonical_form(mol), mol)
            return
        i, j = pairs[k]
        for m in range(min(3, left) + 1):
            if used[i] + m > valence[i] or used[j] + m > valence[j]:
                break
            if m:
                used[i] += m
                used[j] += m
                bonds.append((i, j, m))
            rec(k + 1, used, left - m, bonds)
            if m:
                used[i] -= m
                used[j] -= m
                bonds.pop()

    rec(0, [0] * n, budget, [])
    return list(found.values())


def _connected(mol: Mol) -> bool:
    if mol.n == 0:
        return False
    seen = {0}
    stack = [0]
    while stack:
        v = stack.pop()
        for w in mol.adj[v]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == mol.n


def filtered_count(mols: Iterable[Mol], options: str | Options = "") -> int:
    """The count Surge reports for these molecules (all of one formula) under options:
    the molecules passing :func:`passes`, then with -R one per aromatic class."""
    opts = options if isinstance(options, Options) else Options.parse(options)
    kept = [m for m in mols if passes(m, opts)]
    if not opts.aromatic:
        return len(kept)
    singles = 0
    keys: set[tuple[object, ...]] = set()
    for m in kept:
        closure = rotations(m)
        if len(closure) == 1:
            singles += 1  # inputs are pairwise non-isomorphic; a fixed molecule is its class
        else:
            keys.add(min(canonical_form(x) for x in closure))
    return singles + len(keys)
