from django.contrib import admin

from referrals.models import DepartmentDaySlots, Referral, ReferralEvent


class ReferralEventInline(admin.TabularInline):
    model = ReferralEvent
    extra = 0
    can_delete = False
    fields = ("at", "actor_label", "action", "from_status", "to_status", "reason")
    readonly_fields = fields


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "direction",
        "urgency",
        "status",
        "overdue",
        "due_at",
        "created_at",
    )
    list_filter = ("status", "direction", "urgency", "overdue")
    raw_id_fields = (
        "resident",
        "from_institution",
        "from_department",
        "from_practitioner",
        "to_institution",
        "to_department",
        "redirected_from",
        "follow_on",
        "appointment",
        "created_by",
    )
    inlines = [ReferralEventInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # every change goes through the services (timeline, audit)


@admin.register(DepartmentDaySlots)
class DepartmentDaySlotsAdmin(admin.ModelAdmin):
    list_display = ("department", "date", "capacity", "booked")
    raw_id_fields = ("department",)
