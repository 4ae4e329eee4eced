"""Admin: the package catalogue and teams are edited here; contracts and follow-ups are read
only (they change through the services, which audit every change)."""

from django.contrib import admin

from signing.models import (
    Contract,
    FamilyDoctorTeam,
    FollowUp,
    ServiceItem,
    ServicePackage,
    TeamMember,
)


class ServiceItemInline(admin.TabularInline):
    model = ServiceItem
    extra = 0
    fields = ("code", "name", "times_per_year", "price_fen")


@admin.register(ServicePackage)
class ServicePackageAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "eligible_population", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
    inlines = [ServiceItemInline]


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    raw_id_fields = ("practitioner", "home_institution")


@admin.register(FamilyDoctorTeam)
class FamilyDoctorTeamAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "institution", "lead", "capacity", "active")
    list_filter = ("active", "institution__district")
    search_fields = ("code", "name")
    raw_id_fields = ("institution", "lead")
    inlines = [TeamMemberInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "team", "status", "start_date", "end_date", "source")
    list_filter = ("status", "source", "signature_method")
    search_fields = ("public_id", "team__code")
    list_select_related = ("team",)
    show_full_result_count = False


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "item", "due_date", "status", "done_on_time")
    list_filter = ("status",)
    list_select_related = ("item",)
    show_full_result_count = False
