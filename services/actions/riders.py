"""Platform-side changes to riders: offboarding (issue #6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from members.audit import audit_record
from members.models import Platform, PlatformRider


@dataclass(frozen=True)
class OffboardOutcome:
    platform_rider_id: str
    outcome: str  # offboarded | already_offboarded | not_found | rejected
    code: str = ""
    message: str = ""


@transaction.atomic
def riders_offboard(
    *, platform: Platform, platform_rider_ids: list[str], offboarded_on: date
) -> list[OffboardOutcome]:
    """End the platform tenure of the given riders (set-based). Eligibility is
    not decided here: the program re-check reads `offboarded_on`."""
    riders = {
        r.platform_rider_id: r
        for r in PlatformRider.objects.select_for_update().filter(
            platform=platform, platform_rider_id__in=platform_rider_ids
        )
    }
    outcomes: list[OffboardOutcome] = []
    to_update: list[int] = []
    for rider_id in platform_rider_ids:
        rider = riders.get(rider_id)
        if rider is None:
            outcomes.append(
                OffboardOutcome(
                    rider_id, "not_found", "not_found", "本平台没有该骑手。"
                )
            )
        elif rider.offboarded_on is not None:
            outcomes.append(OffboardOutcome(rider_id, "already_offboarded"))
        elif rider.joined_platform_on and rider.joined_platform_on > offboarded_on:
            outcomes.append(
                OffboardOutcome(
                    rider_id, "rejected", "invalid_date", "离开日期早于入驻平台日期。"
                )
            )
        else:
            to_update.append(rider.pk)
            outcomes.append(OffboardOutcome(rider_id, "offboarded"))
    if to_update:
        PlatformRider.objects.filter(pk__in=to_update).update(
            offboarded_on=offboarded_on, updated_at=timezone.now()
        )
    audit_record(
        action="platform_riders_offboard",
        object_type="platform",
        object_id=platform.pk,
        detail={"platform": platform.code, "offboarded": len(to_update)},
    )
    return outcomes
