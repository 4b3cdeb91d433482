"""The eligibility engine: ONE definition of every rule kind, evaluated two ways.

* For one person: `eligibility_reasons(program=..., facts=..., on=...)` returns every
  failing reason in Chinese (an empty list means eligible).
* Set-based: `program_failures_sql(program=..., on=...)` returns SQL yielding one
  `(member_id, reason)` row per member and failing rule, over all members, with no
  per-row Python. Callers join or filter it against their own member sets.

Each rule kind is written once below as a pair (`_python_fails`, `_sql_fails`)
that read the same typed columns and the same precomputed date bounds (ages and
tenure are turned into birth-date / join-date limits in Python, once per rule), so
the SQL is plain comparisons that run on PostgreSQL and SQLite alike. A hypothesis
test (tests/services/test_eligibility_agreement.py) proves both paths agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch
from django.utils.translation import gettext_noop

from members.models import Member, MemberStatus, PlatformRider
from services.models import EligibilityRule, Program, RuleKind, add_months

# Stored and compared in Chinese; gettext_noop marks them for translation on
# display (services.templatetags.program_tags.reason_display).
REASON_NOT_RUNNING = gettext_noop("本计划当前不在实施期内")
REASON_OCCUPATION = gettext_noop("职业不在本计划覆盖范围")
REASON_AGE = gettext_noop("年龄不在{low}–{high}岁之间")
REASON_TENURE = gettext_noop("在平台工作未满{months}个月")
REASON_OFFBOARDED = gettext_noop("没有在平台工作的记录或已离开平台")
REASON_MEMBERSHIP = gettext_noop("还不是工会会员(需先入会)")
REASON_REGION = gettext_noop("常住地不在本计划覆盖地区")

# Fixed evaluation order, so one person's reasons always read the same way.
KIND_ORDER = [
    RuleKind.REGION_PREFIX,
    RuleKind.OCCUPATION_IN,
    RuleKind.AGE_BETWEEN,
    RuleKind.MEMBERSHIP_REQUIRED,
    RuleKind.NOT_OFFBOARDED,
    RuleKind.MIN_TENURE_MONTHS,
]

UNVERIFIED_LABELS = {
    RuleKind.REGION_PREFIX: "常住地区",
    RuleKind.OCCUPATION_IN: "职业",
    RuleKind.AGE_BETWEEN: "年龄",
    RuleKind.MEMBERSHIP_REQUIRED: "会员身份",
    RuleKind.NOT_OFFBOARDED: "平台在职情况",
    RuleKind.MIN_TENURE_MONTHS: "在平台工作时间",
}


@dataclass(frozen=True)
class PlatformTenure:
    """One platform account as the platform attested it."""

    joined_on: date | None
    offboarded_on: date | None = None


@dataclass(frozen=True)
class EligibilityFacts:
    """What the rules look at. `None` means unknown (the anonymous self-test asks
    only a few questions): a rule whose facts are unknown is not decided, and is
    listed by `eligibility_unverified` instead."""

    occupation: str | None = None
    birth_date: date | None = None
    age: int | None = None  # used only when birth_date is unknown
    residence_county: str | None = None
    is_union_member: bool | None = None
    platform_links: tuple[PlatformTenure, ...] | None = None


def facts_for_member(member: Member) -> EligibilityFacts:
    links = getattr(member, "_prefetched_objects_cache", {}).get("platform_links")
    if links is None:
        links = PlatformRider.objects.filter(member=member)
    return EligibilityFacts(
        occupation=member.occupation,
        birth_date=member.birth_date,
        residence_county=member.residence_county,
        is_union_member=member.status == MemberStatus.ACTIVE,
        platform_links=tuple(
            PlatformTenure(link.joined_platform_on, link.offboarded_on)
            for link in links
        ),
    )


def rules_on(*, program: Program, on: date) -> list[EligibilityRule]:
    """The program's rules in force on `on`, in evaluation order (uses a prefetch
    of `rules` when present)."""
    cache = getattr(program, "_prefetched_objects_cache", {})
    rules = cache["rules"] if "rules" in cache else program.rules.all()
    in_force = [rule for rule in rules if rule.applies_on(on)]
    return sorted(in_force, key=lambda r: (KIND_ORDER.index(r.kind), r.pk or 0))


def programs_with_rules() -> Prefetch:
    return Prefetch("rules", queryset=EligibilityRule.objects.order_by("id"))


# --- the bounds both paths share ---------------------------------------------------


def _born_on_or_before(on: date, years: int) -> date:
    """Age >= years on `on`  <=>  birth_date <= this day."""
    return add_months(on, -12 * years)


def _age_bounds(rule: EligibilityRule, on: date) -> tuple[date, date]:
    """(oldest excluded birth date, youngest allowed birth date): eligible when
    oldest_excluded < birth_date <= youngest_allowed."""
    low, high = rule.min_value or 0, rule.max_value or 0
    return _born_on_or_before(on, high + 1), _born_on_or_before(on, low)


def reason_for(rule: EligibilityRule) -> str:
    if rule.kind == RuleKind.OCCUPATION_IN:
        return REASON_OCCUPATION
    if rule.kind == RuleKind.AGE_BETWEEN:
        return REASON_AGE.format(low=rule.min_value, high=rule.max_value)
    if rule.kind == RuleKind.MIN_TENURE_MONTHS:
        return REASON_TENURE.format(months=rule.min_value)
    if rule.kind == RuleKind.NOT_OFFBOARDED:
        return REASON_OFFBOARDED
    if rule.kind == RuleKind.MEMBERSHIP_REQUIRED:
        return REASON_MEMBERSHIP
    return REASON_REGION


# --- path (a): one person ------------------------------------------------------------


def _python_fails(
    rule: EligibilityRule, facts: EligibilityFacts, on: date
) -> bool | None:
    """True when the rule fails, False when met, None when the facts are unknown."""
    kind = rule.kind
    if kind == RuleKind.OCCUPATION_IN:
        if facts.occupation is None:
            return None
        return facts.occupation not in (rule.occupations or [])
    if kind == RuleKind.AGE_BETWEEN:
        if facts.birth_date is not None:
            oldest_excluded, youngest_allowed = _age_bounds(rule, on)
            return not (oldest_excluded < facts.birth_date <= youngest_allowed)
        if facts.age is None:
            return None
        return not ((rule.min_value or 0) <= facts.age <= (rule.max_value or 0))
    if kind == RuleKind.MEMBERSHIP_REQUIRED:
        return None if facts.is_union_member is None else not facts.is_union_member
    if kind == RuleKind.REGION_PREFIX:
        if facts.residence_county is None:
            return None
        return not facts.residence_county.startswith(rule.region_prefix)
    if facts.platform_links is None:
        return None
    if kind == RuleKind.NOT_OFFBOARDED:
        return not any(
            (link.joined_on is None or link.joined_on <= on)
            and (link.offboarded_on is None or link.offboarded_on > on)
            for link in facts.platform_links
        )
    # MIN_TENURE_MONTHS: a current platform account opened long enough ago.
    joined_by = add_months(on, -(rule.min_value or 0))
    return not any(
        link.joined_on is not None
        and link.joined_on <= joined_by
        and (link.offboarded_on is None or link.offboarded_on > on)
        for link in facts.platform_links
    )


def eligibility_reasons(
    *,
    program: Program,
    on: date,
    member: Member | None = None,
    facts: EligibilityFacts | None = None,
) -> list[str]:
    """Every reason (Chinese) why this person is not covered on `on`; [] = eligible.
    Pass a member (their stored data) or facts (the anonymous self-test)."""
    if facts is None:
        if member is None:
            raise TypeError("eligibility_reasons needs a member or facts")
        facts = facts_for_member(member)
    reasons = [] if program.is_running_on(on) else [REASON_NOT_RUNNING]
    for rule in rules_on(program=program, on=on):
        if _python_fails(rule, facts, on):
            reasons.append(reason_for(rule))
    return reasons


def eligibility_unverified(
    *, program: Program, on: date, facts: EligibilityFacts
) -> list[str]:
    """Labels of the conditions the given facts could not decide."""
    labels: list[str] = []
    for rule in rules_on(program=program, on=on):
        label = UNVERIFIED_LABELS[RuleKind(rule.kind)]
        if _python_fails(rule, facts, on) is None and label not in labels:
            labels.append(label)
    return labels


def rules_described(*, program: Program, on: date) -> list[str]:
    """Who qualifies, in plain Chinese, for the program detail page."""
    lines: list[str] = []
    for rule in rules_on(program=program, on=on):
        lines.append(describe_rule(rule))
    return lines


def describe_rule(rule: EligibilityRule) -> str:
    from members.models import Occupation

    if rule.kind == RuleKind.OCCUPATION_IN:
        names = [
            str(Occupation(o).label) for o in rule.occupations if o in Occupation.values
        ]
        return "职业为:" + "、".join(names)
    if rule.kind == RuleKind.AGE_BETWEEN:
        return f"年龄在{rule.min_value}–{rule.max_value}周岁之间"
    if rule.kind == RuleKind.MIN_TENURE_MONTHS:
        return f"在平台工作满{rule.min_value}个月,且目前仍在平台工作"
    if rule.kind == RuleKind.NOT_OFFBOARDED:
        return "目前仍在平台工作"
    if rule.kind == RuleKind.MEMBERSHIP_REQUIRED:
        return "已加入工会"
    prefix = rule.region_prefix
    return "在深圳市工作生活" if prefix == "4403" else f"常住地区划代码以{prefix}开头"


# --- path (b): set-based SQL ---------------------------------------------------------


def _sql_fails(
    rule: EligibilityRule, on: date, adapt, platform_id: int | None = None
) -> tuple[str, list]:
    """A WHERE condition over `m` (members_member) that is true when the rule
    fails. With `platform_id`, tenure rules count that platform's accounts only
    (a platform's submission is judged on what it knows, see
    services.actions.batches._batch_rule_failures_sql)."""
    rider = PlatformRider._meta.db_table
    kind = rule.kind
    scope, scope_params = (
        (" AND r.platform_id = %s", [platform_id]) if platform_id else ("", [])
    )
    if kind == RuleKind.OCCUPATION_IN:
        occupations = list(rule.occupations or [])
        if not occupations:
            return "1 = 1", []
        marks = ", ".join(["%s"] * len(occupations))
        return f"m.occupation NOT IN ({marks})", occupations
    if kind == RuleKind.AGE_BETWEEN:
        oldest_excluded, youngest_allowed = _age_bounds(rule, on)
        return (
            "(m.birth_date <= %s OR m.birth_date > %s)",
            [adapt(oldest_excluded), adapt(youngest_allowed)],
        )
    if kind == RuleKind.MEMBERSHIP_REQUIRED:
        return "m.status <> %s", [MemberStatus.ACTIVE.value]
    if kind == RuleKind.REGION_PREFIX:
        # region_prefix is validated to digits only, so it holds no LIKE wildcard.
        return "m.residence_county NOT LIKE %s", [rule.region_prefix + "%"]
    if kind == RuleKind.NOT_OFFBOARDED:
        return (
            f"NOT EXISTS (SELECT 1 FROM {rider} r WHERE r.member_id = m.id{scope}"  # noqa: S608
            " AND (r.joined_platform_on IS NULL OR r.joined_platform_on <= %s)"
            " AND (r.offboarded_on IS NULL OR r.offboarded_on > %s))",
            [*scope_params, adapt(on), adapt(on)],
        )
    joined_by = add_months(on, -(rule.min_value or 0))
    return (
        f"NOT EXISTS (SELECT 1 FROM {rider} r WHERE r.member_id = m.id{scope}"  # noqa: S608
        " AND r.joined_platform_on <= %s"
        " AND (r.offboarded_on IS NULL OR r.offboarded_on > %s))",
        [*scope_params, adapt(joined_by), adapt(on)],
    )


def _failure_parts(
    *, program: Program, on: date, platform_id: int | None = None
) -> list[tuple[str, str, list]]:
    """(reason, SQL condition over `m` true when failing, params) per rule in
    force, in evaluation order; a program not running fails everyone first."""
    from django.db import connection

    adapt = connection.ops.adapt_datefield_value
    parts: list[tuple[str, str, list]] = []
    if not program.is_running_on(on):
        parts.append((REASON_NOT_RUNNING, "1 = 1", []))
    for rule in rules_on(program=program, on=on):
        condition, condition_params = _sql_fails(rule, on, adapt, platform_id)
        parts.append((reason_for(rule), condition, condition_params))
    return parts


def program_failures_sql(*, program: Program, on: date) -> tuple[str, list]:
    """SQL and params yielding rows `(member_id bigint, reason text)`: one row per
    member and failing rule of `program` on `on`, over ALL members (members that
    qualify produce no row). Wrap it as a subquery:
    `SELECT ... FROM (<sql>) f WHERE f.member_id = ...` or `NOT EXISTS (...)`.
    If the program is not running on `on`, every member gets the row
    REASON_NOT_RUNNING. Rules are read now (ORM); the SQL embeds them as params.
    """
    member = Member._meta.db_table
    select = f"SELECT m.id AS member_id, CAST(%s AS TEXT) AS reason FROM {member} m"  # noqa: S608
    parts: list[str] = []
    params: list = []
    for reason, condition, condition_params in _failure_parts(program=program, on=on):
        parts.append(f"{select} WHERE {condition}")
        params.extend([reason, *condition_params])
    if not parts:
        return (
            "SELECT CAST(NULL AS BIGINT) AS member_id, CAST(NULL AS TEXT) AS reason"
            " WHERE 1 = 0",
            [],
        )
    return " UNION ALL ".join(parts), params


REASON_SEPARATOR = ";"


def program_reasons_expression(
    *, program: Program, on: date, platform_id: int | None = None
) -> tuple[str, list]:
    """A SQL expression over `m` (a members_member row already in the query)
    whose value is '' when the member qualifies for `program` on `on`, else every
    failing reason in evaluation order, each PREFIXED by REASON_SEPARATOR
    (";r1;r2"); `SUBSTR(x, 2)` gives the reasons text.

    The single-pass form of program_failures_sql, for queries that already walk
    the rows to judge (the nightly job walks a program's enrollments joined to
    their members): no UNION, no sort, no aggregate. Portable: CASE, COALESCE
    and || only. Reference it once (e.g. in a MATERIALIZED CTE): every
    reference re-evaluates the rules. With `platform_id`, tenure rules look at
    that platform's rider accounts only.
    """
    pieces: list[str] = []
    params: list = []
    for reason, condition, condition_params in _failure_parts(
        program=program, on=on, platform_id=platform_id
    ):
        pieces.append(f"COALESCE(CASE WHEN {condition} THEN %s END, '')")
        params.extend([*condition_params, REASON_SEPARATOR + reason])
    if not pieces:
        return "''", []
    return "(" + " || ".join(pieces) + ")", params


def program_failures(
    *, program: Program, on: date, member_ids: Iterable[int] | None = None
) -> dict[int, list[str]]:
    """Run program_failures_sql and group reasons by member (for tests, small sets
    and the admin); `member_ids` narrows the result in SQL."""
    from django.db import connection

    sql, params = program_failures_sql(program=program, on=on)
    query = f"SELECT f.member_id, f.reason FROM ({sql}) f"  # noqa: S608
    if member_ids is not None:
        ids = list(member_ids)
        if not ids:
            return {}
        query += " WHERE f.member_id IN (" + ", ".join(["%s"] * len(ids)) + ")"
        params = [*params, *ids]
    result: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for member_id, reason in cursor.fetchall():
            result.setdefault(member_id, []).append(reason)
    return result


@dataclass
class ProgramVerdict:
    program: Program
    reasons: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons


def programs_check(
    *, on: date, member: Member | None = None, facts: EligibilityFacts | None = None
) -> list[ProgramVerdict]:
    """The self-test over every active program."""
    if facts is None and member is not None:
        facts = facts_for_member(member)
    if facts is None:
        raise TypeError("programs_check needs a member or facts")
    programs = (
        Program.objects.filter(is_active=True)
        .prefetch_related(programs_with_rules(), "benefit_items")
        .order_by("id")
    )
    return [
        ProgramVerdict(
            program=program,
            reasons=eligibility_reasons(program=program, on=on, facts=facts),
            unverified=eligibility_unverified(program=program, on=on, facts=facts),
        )
        for program in programs
    ]


__all__ = [
    "EligibilityFacts",
    "PlatformTenure",
    "ProgramVerdict",
    "eligibility_reasons",
    "eligibility_unverified",
    "facts_for_member",
    "program_failures",
    "program_failures_sql",
    "program_reasons_expression",
    "programs_check",
    "rules_described",
    "rules_on",
]
