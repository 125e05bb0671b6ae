"""Master score series (DESIGN §11): linking a series to a master with a factor, and
re-deriving a master from its links.

Booking derives the rows as they are booked (scoring.booking.derived_row); this module holds
the rules of the links and the rebuild, which applies the links and factors as they are now to
every row already booked, appending what makes the difference (the ledger only appends).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from .booking import CENT, Booking
from .models import ScoreSeries, Transaction
from .services import transaction_book


def series_master_problems(
    *, series: ScoreSeries, master: ScoreSeries | None, factor: Decimal | None
) -> dict[str, str]:
    """What is wrong with linking `series` to `master` (None: unlink). No chains: a master is
    never linked itself, and a linked series is never a master."""
    if master is None:
        return {}
    problems: dict[str, str] = {}
    if series.pk is not None and master.pk == series.pk:
        problems["master"] = f"series {series.name!r} cannot be its own master"
    elif master.master_id is not None:
        problems["master"] = (
            f"series {master.name!r} is linked to master {master.master.name!r} itself; "  # type: ignore[union-attr]
            "a master cannot be linked (no chains)"
        )
    elif series.pk is not None and series.links.exists():
        names = ", ".join(series.links.values_list("name", flat=True)[:5])
        problems["master"] = (
            f"series {series.name!r} is the master of {names}; a master cannot be linked "
            "(no chains)"
        )
    if factor is None or factor == 0:
        problems["master_factor"] = f"the factor must be a number other than 0, not {factor}"
    return problems


def series_master_set(
    *, series: ScoreSeries, master: ScoreSeries | None, factor: Decimal = Decimal(1)
) -> ScoreSeries:
    """Link `series` to `master` with `factor`, or unlink it (master None). Applies to points
    booked from now on; `master_rebuild` applies it to the past. Both series are locked, in
    id order, so two admins linking A to B and B to C at once cannot make a chain."""
    with transaction.atomic():
        ids = sorted({series.pk, *([master.pk] if master else [])})
        locked = {s.pk: s for s in ScoreSeries.objects.select_for_update().filter(pk__in=ids)}
        current = locked[series.pk]
        current_master = locked[master.pk] if master else None
        problems = series_master_problems(series=current, master=current_master, factor=factor)
        if problems:
            raise ValidationError(problems)
        current.master = current_master
        current.master_factor = factor if master else Decimal(1)
        current.save(update_fields=["master", "master_factor"])
    series.master, series.master_factor = current.master, current.master_factor
    return current


@dataclass
class MasterRebuild:
    revoked: int = 0
    booked: int = 0


def master_rebuild(*, master: ScoreSeries) -> MasterRebuild:
    """Make the master hold, for every row of its links, its points x the link's factor as
    it is now (rounded per row), and nothing for rows of series no longer linked.

    Per source row: what should stand for it is one derived row of that many points (none when
    the row is revoked, is a revoke, or rounds to zero). Where what stands differs, the derived
    rows standing for it are revoked and the right one is booked: rows are only appended, with
    the totals, in one transaction. A revoke booked meanwhile by a worker cannot cancel a derived
    row twice (a revoke is unique per row): the rebuild then fails and can run again."""
    if master.master_id is not None:
        raise ValidationError({"master": f"series {master.name!r} is linked, not a master"})
    done = MasterRebuild()
    factors = dict(master.links.values_list("pk", "master_factor"))
    with transaction.atomic():
        booking = Booking()
        standing: dict[int, list[Transaction]] = {}
        derived = (
            Transaction.objects.filter(series=master, derived_from__isnull=False,
                                       revoked_by__isnull=True)
            .exclude(kind=Transaction.Kind.REVOKE)
            .select_related("player", "series")
            .order_by("id")
        )  # fmt: skip
        for row in derived:
            standing.setdefault(row.derived_from_id, []).append(row)  # type: ignore[arg-type]
        sources = (
            Transaction.objects.filter(
                Q(series_id__in=list(factors)) | Q(pk__in=list(standing)),
                derived_from__isnull=True,
            )
            .exclude(kind=Transaction.Kind.REVOKE)
            .select_related("player", "series", "revoked_by")
            .prefetch_related("tags")
            .order_by("id")
        )
        for source in sources.iterator(chunk_size=2000):
            factor = factors.get(source.series_id)
            revoked = hasattr(source, "revoked_by")
            wanted = Decimal(0)
            if factor is not None and not revoked:
                wanted = (source.points * factor).quantize(CENT, rounding=ROUND_HALF_UP)
            rows = standing.get(source.pk, [])
            if [r.points for r in rows] == ([wanted] if wanted else []):
                continue
            for row in rows:
                transaction_book(
                    player=row.player, series=master, points=-row.points,
                    point_time=row.point_time, kind=Transaction.Kind.REVOKE, comment=row.comment,
                    tags=list(row.tags.all()), step_id=row.step_id,
                    source_object=row.source_object, event_id=row.event_id, revokes=row,
                    derived_from=source, booking=booking,
                )  # fmt: skip
                done.revoked += 1
            if wanted:
                transaction_book(
                    player=source.player, series=master, points=wanted,
                    point_time=source.point_time, kind=source.kind, comment=source.comment,
                    tags=list(source.tags.all()), step_id=source.step_id,
                    source_object=source.source_object, event_id=source.event_id,
                    derived_from=source, booking=booking,
                )  # fmt: skip
                done.booked += 1
        booking.flush()
    return done
