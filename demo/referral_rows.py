"""The rows written around a demo referral (demo/referral_walk.py): the visit its arrival opened,
the stay an inpatient downward referral was written at the discharge of, the team's follow-up
that closed a downward loop. Drawn from the walker's own `around` stream, so the walks
themselves do not change with them."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from demo.teams import random_uuid
from healthnet.models import Encounter, EncounterKind, Institution
from referrals.models import CareSetting, Referral
from signing.models import FollowUp, FollowUpStatus


class AroundReferral:
    """Mixed into demo.referral_walk.ReferralWalker (its network, clock and streams)."""

    around: random.Random
    now: dt.datetime
    tz: Any
    network: Any
    departments_of: dict

    def _arrival(
        self, r: Referral, arrived: dt.datetime, discharge: dt.datetime | None
    ) -> Encounter:
        """The visit the arrival opened: an inpatient stay (admitted on arrival, discharged when
        the feedback is given, if that is not after now), else an outpatient visit."""
        if r.care_setting == CareSetting.INPATIENT:
            discharged = discharge if discharge is not None and discharge <= self.now else None
            return Encounter(
                public_id=random_uuid(self.around),
                resident_id=r.resident_id,
                institution_id=r.to_institution_id,
                department_id=r.to_department_id,
                kind=EncounterKind.INPATIENT,
                started_at=arrived,
                admitted_at=arrived,
                discharged_at=discharged,
                ended_at=discharged,
                source="referral",
            )
        return Encounter(
            public_id=random_uuid(self.around),
            resident_id=r.resident_id,
            institution_id=r.to_institution_id,
            department_id=r.to_department_id,
            kind=EncounterKind.OUTPATIENT,
            started_at=arrived,
            ended_at=min(arrived + dt.timedelta(hours=self.around.uniform(0.3, 1.5)), self.now),
            source="referral",
        )

    def _stay(self, r: Referral, hospital: Institution, discharged: dt.datetime) -> Encounter:
        """The stay an inpatient downward referral was written at the discharge of."""
        admitted = discharged - dt.timedelta(days=self.around.uniform(3, 14))
        departments = self.departments_of.get(hospital.pk, [])
        department = self.around.choice(departments) if departments else None
        return Encounter(
            public_id=random_uuid(self.around),
            resident_id=r.resident_id,
            institution_id=hospital.pk,
            department_id=department.pk if department is not None else None,
            kind=EncounterKind.INPATIENT,
            started_at=admitted,
            admitted_at=admitted,
            discharged_at=discharged,
            ended_at=discharged,
            source="demo",
        )

    def _closing_followup(self, r: Referral, at: dt.datetime) -> FollowUp | None:
        """The team's follow-up that closed a downward loop, on the resident's contract of that
        day (an unsigned resident's loop closes without one: demo/referrals
        says why)."""
        item_id = self.network.followup_item_id
        day = timezone.localtime(at, self.tz).date()
        terms = self.network.contract_of.get(r.resident_id, [])
        signed = next((pk for pk, start, end in terms if start <= day <= end), None)
        if signed is None or item_id is None:
            return None
        return FollowUp(
            public_id=random_uuid(self.around),
            contract_id=signed,
            item_id=item_id,
            due_date=day,
            status=FollowUpStatus.DONE,
            done_at=at,
            done_on_time=True,
            outcome="下转患者首次随访 (first follow-up after the downward referral)",
        )
