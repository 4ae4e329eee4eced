"""Signal receivers of the network app, connected in HealthnetConfig.ready().

They react to changes Django itself makes (a password set through any path: the admin, the
`changepassword` command, a future portal form; a login through any login view), so that the
rule holds without every such path remembering to call a service.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from healthnet.middleware import session_limits_stamp
from healthnet.models import User
from healthnet.services import api_tokens_revoke_all


@receiver(pre_save, sender=User, dispatch_uid="healthnet.password_change_detect")
def password_change_detect(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Note whether this save changes the stored password hash (one query, only for saves that
    may write the password: not `last_login` updates)."""
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        instance._healthnet_password_changed = False
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._healthnet_password_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=User, dispatch_uid="healthnet.password_change_revoke_tokens")
def password_change_revoke_tokens(sender: type[User], instance: User, **kwargs: Any) -> None:
    """A new password ends every API token issued under the old one (Django already ends the
    other sessions: their auth hash no longer matches)."""
    if getattr(instance, "_healthnet_password_changed", False):
        instance._healthnet_password_changed = False
        api_tokens_revoke_all(user=instance, reason="password_change")


@receiver(user_logged_in, dispatch_uid="healthnet.session_login_stamp")
def session_login_stamp(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """A session login starts its idle and absolute clocks now (healthnet.middleware)."""
    if request is not None and hasattr(request, "session"):
        session_limits_stamp(request.session, now=time.time())
