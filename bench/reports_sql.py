"""The hand-written SQL bench/bench_reports.py times against the KPI functions: the same figures
(GROUPING SETS over the raw tables for institution / district / city, and team for 履约率; one
statement per KPI for the alliances by membership on the event's local day), and the check that
the SQL's counts are the figures'."""

SQL_REFERRALS_SUBMITTED = """
SELECT i.district, i.code, count(*) FILTER (WHERE r.direction = 'up'),
       count(*) FILTER (WHERE r.direction = 'down')
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.from_institution_id
WHERE r.submitted_at >= %(start)s AND r.submitted_at < %(end)s AND r.redirected_from_id IS NULL
GROUP BY GROUPING SETS ((i.district, i.code), (i.district), ())
"""
SQL_DECISIONS = """
SELECT i.district, i.code, count(*), count(*) FILTER (WHERE r.decided_at <= r.decision_due_at)
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.to_institution_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((i.district, i.code), (i.district), ())
"""
SQL_REJECTIONS = """
SELECT i.district, i.code, r.rejection_reason, count(*) FILTER (WHERE r.status = 'rejected'),
       count(*)
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.to_institution_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((i.district, i.code, r.rejection_reason), (i.district, i.code),
                        (i.district, r.rejection_reason), (i.district), (r.rejection_reason), ())
"""
SQL_FULFILMENT = """
SELECT i.district, i.code, c.team_id, count(*),
       count(*) FILTER (WHERE f.status = 'done'
                        AND (f.done_at AT TIME ZONE 'Asia/Shanghai')::date <= f.due_date)
FROM signing_followup f JOIN signing_contract c ON c.id = f.contract_id
     JOIN signing_familydoctorteam t ON t.id = c.team_id
     JOIN healthnet_institution i ON i.id = t.institution_id
WHERE f.due_date >= %(first)s AND f.due_date < %(after)s AND f.status <> 'cancelled'
GROUP BY GROUPING SETS ((i.district, i.code, c.team_id), (i.district, i.code), (i.district), ())
"""

# The alliance level: an institution counts for the alliances it is a member of on the event's
# local day (a second statement: joining memberships into the one above would count an
# institution in two alliances twice at the other levels).
SQL_REFERRALS_SUBMITTED_ALLIANCE = """
SELECT a.code, count(*) FILTER (WHERE r.direction = 'up'),
       count(*) FILTER (WHERE r.direction = 'down')
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.from_institution_id
  AND m.start_date <= (r.submitted_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.submitted_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.submitted_at >= %(start)s AND r.submitted_at < %(end)s AND r.redirected_from_id IS NULL
GROUP BY a.code
"""
SQL_DECISIONS_ALLIANCE = """
SELECT a.code, count(*), count(*) FILTER (WHERE r.decided_at <= r.decision_due_at)
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.to_institution_id
  AND m.start_date <= (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY a.code
"""
SQL_REJECTIONS_ALLIANCE = """
SELECT a.code, r.rejection_reason, count(*) FILTER (WHERE r.status = 'rejected'), count(*)
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.to_institution_id
  AND m.start_date <= (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((a.code, r.rejection_reason), (a.code))
"""
SQL_FULFILMENT_ALLIANCE = """
SELECT a.code, count(*),
       count(*) FILTER (WHERE f.status = 'done'
                        AND (f.done_at AT TIME ZONE 'Asia/Shanghai')::date <= f.due_date)
FROM signing_followup f JOIN signing_contract c ON c.id = f.contract_id
     JOIN signing_familydoctorteam t ON t.id = c.team_id
     JOIN healthnet_alliancemembership m ON m.institution_id = t.institution_id
       AND m.start_date <= f.due_date AND (m.end_date IS NULL OR f.due_date < m.end_date)
     JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE f.due_date >= %(first)s AND f.due_date < %(after)s AND f.status <> 'cancelled'
GROUP BY a.code
"""


def _unit_key(district, code) -> tuple[str, str]:
    if code is not None:
        return ("institution", code)
    if district is not None:
        return ("district", district)
    return ("city", "city")


def compare_counts(figures: dict, rows: list[tuple], column: int, name: str) -> None:
    """The SQL's counts (a GROUPING SETS row per institution, district and the city) equal the
    figures' numerators, column `column` of each row; an AssertionError names the KPI."""
    got = {_unit_key(r[0], r[1]): r[column] for r in rows if r[column]}
    want = {
        key[:2]: int(f.numerator)
        for key, f in figures.items()
        if key[0] in ("city", "district", "institution") and not key[2] and f.numerator
    }  # the totals ("" breakdown): 下转 also has a figure per care setting
    assert got == want, name
