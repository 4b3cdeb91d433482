from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import Q


class RegionCode(models.Model):
    """One row of the GB/T 2260 administrative division table (BR-V3), versioned.

    A code is valid from `valid_from` until `valid_to` (exclusive, null = still
    valid). Retired codes stay in the table: ID numbers keep the county code of the
    year they were issued, so an unknown or retired code is a warning, never an
    error (BR-V2).
    """

    code = models.CharField("行政区划代码", max_length=6)
    name = models.CharField("名称", max_length=60)
    valid_from = models.DateField("启用日期", default=date(1980, 1, 1))
    valid_to = models.DateField("停用日期", null=True, blank=True)

    class Meta:
        verbose_name = "行政区划代码"
        verbose_name_plural = "行政区划代码"
        ordering = ["code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "valid_from"], name="regioncode_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_to__gt=models.F("valid_from")),
                name="regioncode_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
