"""The contract lifecycle of docs/design.md §5 through the real services: each transition and each
refusal, with the audit event it writes and (for refusals) nothing else written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from healthnet.errors import Conflict, Forbidden, InvalidInput
from healthnet.models import AuditEvent, OutboxMessage, Tier
from signing import hooks, selectors, services, terms
from signing.models import Contract, ContractStatus, FollowUp, FollowUpStatus
from tests.factories import InstitutionFactory, ResidentFactory
from tests.signing.helpers import GUARDIAN_ID, make_team, sign, signed_contract


def audit_actions(obj=None) -> list[str]:
    qs = AuditEvent.objects.order_by("pk")
    if obj is not None:
        qs = qs.filter(object_id=str(obj.public_id))
    return list(qs.values_list("action", flat=True))


def last_refusal(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=f"{action}_refused").latest("pk")


# --- create -------------------------------------------------------------------------------------


def test_create_offers_pending_contract_with_basic_package(adult, team, gp):
    contract = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])

    assert contract.status == ContractStatus.PENDING_SIGNATURE
    assert [p.code for p in contract.packages.all()] == ["basic"]
    assert contract.end_date == terms.term_end(contract.start_date)
    assert audit_actions(contract) == ["contract_create"]


def test_create_adds_eligible_personalised_package(hypertensive, team, gp):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    assert sorted(p.code for p in contract.packages.all()) == ["basic", "hypertension"]


@pytest.mark.parametrize(
    ("codes", "code"),
    [(["hypertension"], "package_not_eligible"), (["no-such"], "package_unknown")],
)
def test_create_refuses_package_not_offered(adult, team, gp, codes, code):
    with pytest.raises(InvalidInput) as exc:
        services.contract_create(actor=gp, resident=adult, team=team, package_codes=codes)

    assert exc.value.code == code
    assert Contract.objects.count() == 0
    assert last_refusal("contract_create").details["code"] == code


def test_create_refuses_when_resident_already_signed(adult, team, gp, primary):
    signed_contract(adult, team, gp)
    other, _ = make_team(primary, code="t-02", member_user=False)

    with pytest.raises(Conflict) as exc:
        services.contract_create(actor=None, resident=adult, team=other, package_codes=[])

    assert exc.value.code == "active_contract_exists"
    assert Contract.objects.count() == 1


def test_create_refuses_actor_outside_team(adult, team, primary):
    from tests.factories import UserFactory

    stranger = UserFactory(username="other-doc", institution=primary)
    with pytest.raises(Forbidden):
        services.contract_create(actor=stranger, resident=adult, team=team, package_codes=[])
    assert Contract.objects.count() == 0
    assert last_refusal("contract_create").actor == stranger


def test_team_must_be_at_primary_institution(catalogue):
    hospital = InstitutionFactory(code="wh-t-01", tier=Tier.TERTIARY)
    with pytest.raises(InvalidInput) as exc:
        services.team_create(actor=None, code="t-x", name="x", institution=hospital)
    assert exc.value.code == "institution_not_primary"


# --- sign ---------------------------------------------------------------------------------------


def test_sign_activates_with_consent_terms_hash_and_follow_ups(hypertensive, team, gp):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    result = sign(contract, gp)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    assert (contract.signed_by, contract.signature_method) == ("resident", "in_person")
    assert contract.signed_at is not None
    expected = terms.terms_hash(
        terms.terms_document(
            contract_id=str(contract.public_id),
            resident_id=str(hypertensive.public_id),
            team_code=team.code,
            start_date=contract.start_date,
            end_date=contract.end_date,
            packages=list(contract.packages.prefetch_related("items")),
        )
    )
    assert contract.terms_hash == expected
    # basic: annual ×1; hypertension: follow-up ×4 + lipid panel ×1
    followups = list(FollowUp.objects.filter(contract=contract))
    assert len(followups) == 6
    assert all(contract.start_date <= f.due_date <= contract.end_date for f in followups)
    assert result.team_load == 1
    assert result.capacity_warning is False
    assert audit_actions(contract) == ["contract_create", "contract_sign"]


def test_sign_refuses_second_active_contract(adult, team, gp, primary):
    other, _ = make_team(primary, code="t-02", member_user=False)
    first = services.contract_create(actor=None, resident=adult, team=team, package_codes=[])
    second = services.contract_create(actor=None, resident=adult, team=other, package_codes=[])
    sign(first)

    with pytest.raises(Conflict) as exc:
        sign(second)

    assert exc.value.code == "active_contract_exists"
    second.refresh_from_db()
    assert second.status == ContractStatus.PENDING_SIGNATURE
    assert not FollowUp.objects.filter(contract=second).exists()
    refusal = last_refusal("contract_sign")
    assert refusal.object_id == str(second.public_id)
    assert refusal.details["code"] == "active_contract_exists"


def test_sign_warns_at_95_percent_and_refuses_when_full(primary, catalogue):
    small, _ = make_team(primary, code="t-small", capacity=2, member_user=False)
    residents = [ResidentFactory() for _ in range(3)]
    pending = [
        services.contract_create(actor=None, resident=r, team=small, package_codes=[])
        for r in residents
    ]

    assert sign(pending[0]).capacity_warning is False  # 1/2
    second = sign(pending[1])
    assert second.capacity_warning is True  # 2/2 ≥ 95 %
    assert OutboxMessage.objects.filter(recipient="team:t-small").count() == 1
    with pytest.raises(Conflict) as exc:
        sign(pending[2])

    assert exc.value.code == "team_full"
    assert Contract.objects.filter(team=small, status=ContractStatus.ACTIVE).count() == 2
    assert last_refusal("contract_sign").details["code"] == "team_full"


def test_create_refuses_into_full_team(primary, catalogue):
    small, _ = make_team(primary, code="t-one", capacity=1, member_user=False)
    signed_contract(ResidentFactory(), small)
    with pytest.raises(Conflict) as exc:
        services.contract_create(
            actor=None, resident=ResidentFactory(), team=small, package_codes=[]
        )
    assert exc.value.code == "team_full"


def test_sign_for_minor_without_guardian_is_refused(minor, team, gp):
    contract = services.contract_create(actor=gp, resident=minor, team=team, package_codes=[])

    with pytest.raises(InvalidInput) as exc:
        sign(contract, gp)

    assert exc.value.code == "guardian_required"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING_SIGNATURE
    assert last_refusal("contract_sign").details["code"] == "guardian_required"


def test_guardian_signs_for_minor(minor, team, gp):
    contract = services.contract_create(
        actor=gp, resident=minor, team=team, package_codes=["child-0-6"]
    )
    sign(
        contract,
        gp,
        signed_by="guardian",
        method="guardian",
        guardian_name="张母",
        guardian_relationship="母亲",
        guardian_national_id=GUARDIAN_ID,
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    assert contract.signed_by == "guardian"
    assert contract.guardian_name == "张母"
    assert len(contract.guardian_national_id_hash) == 64
    assert GUARDIAN_ID not in str(AuditEvent.objects.values_list("details", flat=True))


def test_incapacitated_adult_needs_guardian(adult, team):
    contract = services.contract_create(actor=None, resident=adult, team=team, package_codes=[])
    with pytest.raises(InvalidInput) as exc:
        sign(contract, resident_incapacitated=True)
    assert exc.value.code == "guardian_required"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"signed_by": "guardian", "method": "guardian"}, "guardian_details_required"),
        ({"method": "guardian"}, "signature_method_mismatch"),
        ({"signed_by": "someone"}, "signed_by_invalid"),
        (
            {
                "signed_by": "guardian",
                "method": "guardian",
                "guardian_name": "x",
                "guardian_relationship": "y",
                "guardian_national_id": "150302198001010000",
            },
            "national_id_checksum",
        ),
    ],
)
def test_bad_consent_is_refused(adult, team, overrides, code):
    contract = services.contract_create(actor=None, resident=adult, team=team, package_codes=[])
    with pytest.raises(InvalidInput) as exc:
        sign(contract, **overrides)
    assert exc.value.code == code
    assert not FollowUp.objects.exists()


def test_sign_twice_is_refused(adult, team):
    contract = signed_contract(adult, team)
    with pytest.raises(Conflict) as exc:
        sign(contract)
    assert exc.value.code == "transition_not_allowed"


# --- periodic jobs, renew, switch, expire --------------------------------------------------------


def _due_for_renewal(contract: Contract) -> Contract:
    services.contracts_mark_renewal_due(today=contract.end_date - dt.timedelta(days=10))
    contract.refresh_from_db()
    assert contract.status == ContractStatus.RENEWAL_DUE
    return contract


def test_renewal_due_job_is_idempotent_and_reminds_once(adult, team):
    contract = signed_contract(adult, team)
    day = contract.end_date - dt.timedelta(days=30)
    assert services.contracts_mark_renewal_due(today=day - dt.timedelta(days=1)) == 0
    assert services.contracts_mark_renewal_due(today=day) == 1
    reminders = OutboxMessage.objects.filter(dedupe_key__startswith="signing:renewal-due:").count()

    assert services.contracts_mark_renewal_due(today=day) == 0
    contract.refresh_from_db()
    assert contract.status == ContractStatus.RENEWAL_DUE
    assert reminders == 1
    assert OutboxMessage.objects.filter(dedupe_key__startswith="signing:renewal-due:").count() == 1
    assert "contract_renewal_due" in audit_actions(contract)


def test_renew_creates_successor_and_marks_old_renewed(adult, team, gp):
    old = _due_for_renewal(signed_contract(adult, team, gp))

    result = services.contract_renew(
        actor=gp, contract=old, signed_by="resident", method="e_signature"
    )

    old.refresh_from_db()
    new = result.contract
    assert old.status == ContractStatus.RENEWED
    assert new.status == ContractStatus.ACTIVE
    assert new.previous_contract == old
    assert new.team == team
    assert new.start_date == old.end_date + dt.timedelta(days=1)
    assert new.signature_method == "e_signature"
    assert FollowUp.objects.filter(contract=new).count() == 1
    assert audit_actions(new) == ["contract_renew"]


def test_renew_before_due_is_refused(adult, team, gp):
    contract = signed_contract(adult, team, gp)
    with pytest.raises(Conflict) as exc:
        services.contract_renew(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )
    assert exc.value.code == "renewal_not_due"
    assert Contract.objects.count() == 1
    assert last_refusal("contract_renew").object_id == str(contract.public_id)


def test_switch_before_term_end_is_refused(adult, team, primary):
    other, _ = make_team(primary, code="t-02", member_user=False)
    contract = signed_contract(adult, team)

    with pytest.raises(Conflict) as exc:
        services.contract_switch(
            actor=None, contract=contract, team=other, signed_by="resident", method="in_person"
        )

    assert exc.value.code == "switch_not_at_term_end"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    assert Contract.objects.count() == 1
    assert last_refusal("contract_switch").details["code"] == "switch_not_at_term_end"


def test_switch_at_term_end_moves_to_new_team(adult, team, primary):
    other, other_gp = make_team(primary, code="t-02")
    old = _due_for_renewal(signed_contract(adult, team))

    result = services.contract_switch(
        actor=other_gp, contract=old, team=other, signed_by="resident", method="in_person"
    )

    old.refresh_from_db()
    assert old.status == ContractStatus.SWITCHED
    assert result.contract.team == other
    assert result.contract.previous_contract == old
    assert audit_actions(result.contract) == ["contract_switch"]
    assert OutboxMessage.objects.filter(recipient=f"team:{team.code}").exists()


def test_switch_refusals_same_team_and_full_team(adult, team, primary):
    full, _ = make_team(primary, code="t-full", capacity=1, member_user=False)
    signed_contract(ResidentFactory(), full)
    old = _due_for_renewal(signed_contract(adult, team))

    with pytest.raises(InvalidInput) as same:
        services.contract_switch(
            actor=None, contract=old, team=team, signed_by="resident", method="in_person"
        )
    with pytest.raises(Conflict) as into_full:
        services.contract_switch(
            actor=None, contract=old, team=full, signed_by="resident", method="in_person"
        )

    assert same.value.code == "switch_same_team"
    assert into_full.value.code == "team_full"
    old.refresh_from_db()
    assert old.status == ContractStatus.RENEWAL_DUE


def test_expire_after_grace_is_idempotent(adult, team):
    contract = _due_for_renewal(signed_contract(adult, team))
    grace_end = contract.end_date + dt.timedelta(days=30)

    assert services.contracts_expire(today=grace_end) == 0
    assert services.contracts_expire(today=grace_end + dt.timedelta(days=1)) == 1
    assert services.contracts_expire(today=grace_end + dt.timedelta(days=1)) == 0
    contract.refresh_from_db()
    assert contract.status == ContractStatus.EXPIRED
    assert "contract_expire" in audit_actions(contract)


# --- terminate ----------------------------------------------------------------------------------


def test_terminate_without_reason_is_refused(adult, team, gp):
    contract = signed_contract(adult, team, gp)

    with pytest.raises(InvalidInput) as exc:
        services.contract_terminate(actor=gp, contract=contract, reason="")

    assert exc.value.code == "termination_reason_required"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    refusal = last_refusal("contract_terminate")
    assert (refusal.object_id, refusal.actor) == (str(contract.public_id), gp)


def test_terminate_with_unknown_reason_is_refused(adult, team):
    contract = signed_contract(adult, team)
    with pytest.raises(InvalidInput) as exc:
        services.contract_terminate(actor=None, contract=contract, reason="bored")
    assert exc.value.code == "termination_reason_unknown"


def test_terminate_cancels_future_follow_ups(adult, team, gp):
    contract = signed_contract(adult, team, gp)

    services.contract_terminate(actor=gp, contract=contract, reason="moved_away", note="迁往包头")

    contract.refresh_from_db()
    assert contract.status == ContractStatus.TERMINATED
    assert contract.terminated_reason == "moved_away"
    assert set(FollowUp.objects.filter(contract=contract).values_list("status", flat=True)) == {
        FollowUpStatus.CANCELLED
    }
    assert audit_actions(contract)[-1] == "contract_terminate"
    with pytest.raises(Conflict):
        services.contract_terminate(actor=gp, contract=contract, reason="died")
    # the place is free again: the resident may sign anew
    assert selectors.active_contract_for(adult) is None


# --- follow-ups ---------------------------------------------------------------------------------


def test_followup_record_by_team_member_runs_hooks(adult, team, gp, monkeypatch):
    contract = signed_contract(adult, team, gp)
    followup = FollowUp.objects.get(contract=contract)
    seen = []
    monkeypatch.setattr(hooks, "FOLLOWUP_RECORDED", [seen.append])

    done = services.followup_record(actor=gp, followup=followup, outcome="血压 128/82，继续服药")

    assert done.status == FollowUpStatus.DONE
    assert done.done_by == gp
    assert done.done_on_time is True
    assert seen == [done]
    assert audit_actions(followup) == ["followup_record"]


def test_followup_record_refusals(adult, team, gp, admin, primary):
    contract = signed_contract(adult, team, gp)
    followup = FollowUp.objects.get(contract=contract)
    _, other_gp = make_team(primary, code="t-02")

    for outsider in (admin, other_gp):
        with pytest.raises(Forbidden):
            services.followup_record(actor=outsider, followup=followup, outcome="x")
    with pytest.raises(InvalidInput) as empty:
        services.followup_record(actor=gp, followup=followup, outcome="  ")
    services.followup_record(actor=gp, followup=followup, outcome="ok")
    with pytest.raises(Conflict) as again:
        services.followup_record(actor=gp, followup=followup, outcome="again")

    assert empty.value.code == "outcome_required"
    assert again.value.code == "follow_up_not_pending"
    assert AuditEvent.objects.filter(action="followup_record_refused").count() == 4


def test_followup_late_is_not_on_time_and_rates(hypertensive, team, gp):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    sign(contract, gp)
    followups = list(FollowUp.objects.filter(contract=contract).order_by("due_date", "pk"))
    # Pretend the term started long ago: move the dates back a year.
    Contract.objects.filter(pk=contract.pk).update(
        start_date=contract.start_date - dt.timedelta(days=365),
    )
    for f in followups:
        FollowUp.objects.filter(pk=f.pk).update(due_date=f.due_date - dt.timedelta(days=365))
    first, second = (FollowUp.objects.get(pk=f.pk) for f in followups[:2])
    services.followup_record(
        actor=gp,
        followup=first,
        outcome="on time",
        done_at=timezone.make_aware(dt.datetime.combine(first.due_date, dt.time(10))),
    )
    services.followup_record(actor=gp, followup=second, outcome="months late")

    rate = selectors.contract_fulfilment(contract)
    assert FollowUp.objects.get(pk=second.pk).done_on_time is False
    assert (rate.done_on_time, rate.due) == (1, 6)
    assert selectors.team_fulfilment(team).rate == round(1 / 6, 4)


def test_followup_reminders_are_idempotent(adult, team):
    contract = signed_contract(adult, team)
    followup = FollowUp.objects.get(contract=contract)
    day = followup.due_date - dt.timedelta(days=3)

    first = services.followup_reminders_send(today=day)
    second = services.followup_reminders_send(today=day)
    overdue = services.followup_reminders_send(today=followup.due_date + dt.timedelta(days=1))
    overdue_again = services.followup_reminders_send(today=followup.due_date + dt.timedelta(days=1))

    assert (first, second, overdue, overdue_again) == (1, 0, 1, 0)


# --- selectors other apps use ---------------------------------------------------------------------


def test_active_contract_for_and_resident_concerns_institution(adult, team, primary):
    assert selectors.active_contract_for(adult) is None
    assert not selectors.resident_concerns_institution(adult, primary.pk)
    contract = signed_contract(adult, team)

    assert selectors.active_contract_for(adult) == contract
    assert selectors.active_contract_for(adult).team.institution == primary
    assert selectors.resident_concerns_institution(adult, primary.pk)
    assert not selectors.resident_concerns_institution(adult, None)
    other = InstitutionFactory(code="wh-p-99")
    assert not selectors.resident_concerns_institution(adult, other.pk)


def test_database_refuses_a_second_active_contract_even_bypassing_the_service(adult, team, primary):
    from django.db import IntegrityError, transaction

    other, _ = make_team(primary, code="t-02", member_user=False)
    pending = services.contract_create(actor=None, resident=adult, team=other, package_codes=[])
    signed_contract(adult, team)

    with pytest.raises(IntegrityError), transaction.atomic():
        Contract.objects.filter(pk=pending.pk).update(status=ContractStatus.ACTIVE, terms_hash="x")
